package syncer

import (
	"slices"

	"github.com/focussync/focussync/focus"
	"github.com/focussync/focussync/state"
)

// uploadsOf describes a batch for the client so that exactly the scanned bytes
// are sent, from inside the folder: each file is opened relative to the folder's
// root without following a symlink anywhere on its path and without blocking, must
// still be the regular file that was scanned (device, inode and size), and the
// bytes sent must have the scanned SHA-256. Anything else cuts the request short
// with focus.ErrNotScanned before the server can store it.
func (p *pass) uploadsOf(files []state.IntentFile) []focus.Upload {
	ups := make([]focus.Upload, len(files))
	for i, f := range files {
		ups[i] = focus.Upload{
			Root: p.f.Path, Path: f.Path, Size: f.Size, Device: p.device(f.Path), Inode: f.Inode, Hash: f.Hash,
			Name: f.Name, DisplayOrder: f.DisplayOrder,
		}
		if f.Hash == "" {
			// Not hashed by the scan (hashLater): hashed while it is sent, into
			// the intent's file, and refused if it is written to meanwhile.
			ups[i].ModTime = f.ModTime
			ups[i].Sum = &files[i].Hash
		}
	}
	return ups
}

// hashLater is the scan's ScanOptions.Unhashed: a file with no record at its path
// and with a size that no record has cannot be an unchanged file, a rename of a
// tracked one nor a refused one, so the scan need not read it: its upload hashes
// it while sending it, and each new file is read once. A file that might be any
// of those is hashed by the scan, for the planner to compare, and so is one whose
// streamed upload failed in an earlier round of this call (pass.readFirst).
func (p *pass) hashLater() func(path string, size int64) bool {
	var sizes []int64 // of every record, sorted; made at the first new file
	return func(path string, size int64) bool {
		if _, ok := p.folder.Files[path]; ok || p.readFirst[path] {
			return false
		}
		if sizes == nil {
			sizes = make([]int64, 0, len(p.folder.Files))
			for _, r := range p.folder.Files {
				sizes = append(sizes, r.Size)
			}
			slices.Sort(sizes)
		}
		_, found := slices.BinarySearch(sizes, size)
		return !found
	}
}

// notScanned reports a batch cut short because a file in it was not the one that
// was scanned (swapped for a symlink, a FIFO or another file, or changed in place).
// Nothing was stored; the next round scans again and sends what is there then.
// It is a warning: on a share, a file replaced by a symlink between the scan and
// the upload may be someone trying to make the service send a file from outside.
func (p *pass) notScanned(files []state.IntentFile, err error) {
	p.readFirstNext(files)
	p.log.Warn("upload cut short: a file is not the one that was scanned; nothing was stored, the next round looks again",
		"files", batchName(files), "err", err)
}

// readFirstNext makes the next round's scan read and hash the files of a batch
// that was cut short, instead of leaving them to the upload again: a file that
// cannot be read is then held by the scan with its reason, and the others of the
// batch go up without it.
func (p *pass) readFirstNext(files []state.IntentFile) {
	if p.readFirst == nil {
		p.readFirst = map[string]bool{}
	}
	for _, f := range files {
		p.readFirst[f.Path] = true
	}
}
