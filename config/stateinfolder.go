package config

import "path/filepath"

// stateOutsideFolders refuses a state db inside a watched folder (in the folder
// itself, or below it when the folder is recursive): a share that others write to
// could damage or replace it, and it is no file to mirror. Its
// companions (a lock, a journal, the control socket) live beside it, so they are
// covered too.
func (v *validator) stateOutsideFolders(statePath string, folders []Folder) {
	if statePath == "" {
		return
	}
	dir := filepath.Dir(statePath)
	if r, err := filepath.EvalSymlinks(dir); err == nil {
		dir = r
	}
	for i, f := range folders {
		if f.Path == "" {
			continue
		}
		root := f.Path
		if r, err := filepath.EvalSymlinks(root); err == nil {
			root = r
		}
		if dir == root || f.Recursive && within(dir, root) {
			v.failKey("state.path", "%s lies inside the watched folder %s (%s): anyone who can write there could "+
				"damage or replace it; keep the state db on a local disk outside every folder (the default is %s)",
				statePath, folderKey(i, ""), f.Path, DefaultStatePath())
			return
		}
	}
}
