package syncer

import (
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
		var dev uint64
		if p.snap != nil {
			dev = p.snap.Files[f.Path].Device
		}
		ups[i] = focus.Upload{
			Root: p.f.Path, Path: f.Path, Size: f.Size, Device: dev, Inode: f.Inode, Hash: f.Hash,
			Name: f.Name, DisplayOrder: f.DisplayOrder,
		}
	}
	return ups
}

// notScanned reports a batch cut short because a file in it was not the one that
// was scanned (swapped for a symlink, a FIFO or another file, or changed in place).
// Nothing was stored; the next round scans again and sends what is there then.
// It is a warning: on a share, a file replaced by a symlink between the scan and
// the upload may be someone trying to make the service send a file from outside.
func (p *pass) notScanned(files []state.IntentFile, err error) {
	p.log.Warn("upload cut short: a file is not the one that was scanned; nothing was stored, the next round looks again",
		"files", batchName(files), "err", err)
}
