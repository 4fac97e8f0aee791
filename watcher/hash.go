package watcher

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sync"
	"sync/atomic"

	"github.com/focussync/focussync/internal/safefs"
)

// hashBufSize is the read size used while hashing.
const hashBufSize = 256 << 10

var hashBufs = sync.Pool{New: func() any {
	b := make([]byte, hashBufSize)
	return &b
}}

// hashOutcome is what became of one hash job.
type hashOutcome int

const (
	hashedOK      hashOutcome = iota
	hashVanished              // gone before or while it was read: simply absent
	hashChanged               // changed between listing and the end of the read: held
	hashFailed                // could not be read: held and reported
	hashCancelled             // the context ended
)

type hashResult struct {
	outcome hashOutcome
	hash    string
	read    int64
	err     error
}

// hashAll hashes the collected jobs with up to workers goroutines and records
// the results in the snapshot, in job order.
func (w *walker) hashAll(workers int) error {
	if len(w.jobs) == 0 {
		return nil
	}
	open := func(j *hashJob) (*os.File, error) {
		if w.opt.beforeOpen != nil {
			w.opt.beforeOpen(j.rel)
		}
		return safefs.Open(w.opt.Folder.Path, j.rel)
	}
	if w.opt.openFile != nil {
		open = func(j *hashJob) (*os.File, error) { return w.opt.openFile(j.full) }
	}
	results := make([]hashResult, len(w.jobs))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(workers, len(w.jobs)) {
		wg.Go(func() {
			bp := hashBufs.Get().(*[]byte)
			defer hashBufs.Put(bp)
			for {
				i := int(next.Add(1) - 1)
				if i >= len(w.jobs) || w.ctx.Err() != nil {
					return
				}
				results[i] = hashFile(w.ctx, open, &w.jobs[i], *bp)
			}
		})
	}
	wg.Wait()
	if err := w.ctx.Err(); err != nil {
		return err
	}

	for i := range w.jobs {
		j, r := &w.jobs[i], &results[i]
		w.stats.HashedBytes += r.read
		switch r.outcome {
		case hashedOK:
			w.stats.Hashed++
			w.snap.Files[j.rel] = File{Path: j.rel, Size: j.size, ModTime: j.mtime, Inode: j.inode, Device: j.dev, Hash: r.hash}
		case hashVanished:
			w.stats.Files--
		case hashChanged:
			w.hold(j.rel, HoldSettling, "changed while hashing", nil)
		case hashFailed:
			w.hold(j.rel, HoldUnreadable, "unreadable: "+cause(r.err), r.err)
		case hashCancelled:
			return r.err
		}
	}
	return nil
}

// hashFile reads one file and returns its SHA-256, checking that the file is
// the one listed (same size, mtime and inode) before and after the read. The
// file is opened beneath the root without following symlinks and without
// blocking: a file swapped for a symlink, a FIFO or a device since the listing
// is "changed while hashing", and nothing is read from it.
func hashFile(ctx context.Context, open func(*hashJob) (*os.File, error), j *hashJob, buf []byte) hashResult {
	f, err := open(j)
	if safefs.Refused(err) {
		return hashResult{outcome: hashChanged}
	}
	if err != nil {
		return failed(err, "open")
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return failed(err, "stat")
	}
	if !j.matches(fi) {
		return hashResult{outcome: hashChanged}
	}
	h := sha256.New()
	// The anonymous struct hides (*os.File).WriteTo so that buf is used.
	n, err := io.CopyBuffer(h, struct{ io.Reader }{ctxReader{ctx, f}}, buf)
	if err != nil {
		if ctx.Err() != nil {
			return hashResult{outcome: hashCancelled, read: n, err: ctx.Err()}
		}
		r := failed(err, "read")
		r.read = n
		return r
	}
	after, err := os.Lstat(j.full)
	if err != nil {
		r := failed(err, "stat")
		r.read = n
		return r
	}
	if !j.matches(after) || n != j.size {
		return hashResult{outcome: hashChanged, read: n}
	}
	return hashResult{outcome: hashedOK, hash: hex.EncodeToString(h.Sum(nil)), read: n}
}

// failed classifies an error met while hashing: a file that no longer exists
// is simply absent, anything else makes it unreadable.
func failed(err error, op string) hashResult {
	if errors.Is(err, fs.ErrNotExist) {
		return hashResult{outcome: hashVanished}
	}
	return hashResult{outcome: hashFailed, err: fmt.Errorf("hash: %s: %w", op, err)}
}

// matches reports whether fi still describes the file that was listed.
func (j *hashJob) matches(fi fs.FileInfo) bool {
	if !fi.Mode().IsRegular() || fi.Size() != j.size || !fi.ModTime().Equal(j.mtime) {
		return false
	}
	inode, _ := fileIDs(fi)
	dev, _ := safefs.FileID(fi)
	return inode == j.inode && (j.dev == 0 || dev == j.dev)
}

// ctxReader stops a read loop once its context ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
