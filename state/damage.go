package state

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"time"

	bolt "go.etcd.io/bbolt"
)

// ErrForeign is returned (wrapped) by Open when the file at the state path is not
// a focussync state db at all (another program's file, or a bbolt database of
// another program). Open never moves or changes such a file. It wraps ErrCorrupt,
// which covers every file Open cannot use as a state db.
var ErrForeign = fmt.Errorf("%w: another program's file", ErrCorrupt)

// Recovery says what Open did with a damaged state db (Options.MoveAsideDamaged).
type Recovery struct {
	// MovedTo is where the damaged file is now: the state path with
	// ".damaged-<UTC time>" appended. Nothing was deleted.
	MovedTo string
	// Reason is what was wrong with it.
	Reason error
}

// Recovered returns what Open did to a damaged db before it made this one, or nil.
func (s *Store) Recovered() *Recovery { return s.recovered }

// RecoveryHint is the sentence that tells a person what happens to a damaged
// state db, for messages of commands that only read it.
const RecoveryHint = "the next 'focussync sync' or 'focussync run' moves it aside (nothing is deleted) " +
	"and rebuilds it by listing each task once: files already in Focus are adopted, not uploaded again"

// damaged returns the error for a state db that cannot be used: ErrCorrupt for a
// damaged focussync (bbolt) file, ErrForeign for a file that is not one.
func damaged(path string, reason error, foreign bool, start []byte) error {
	if foreign {
		return &dbError{
			msg: fmt.Sprintf("%s is not a focussync state db (%v; it starts with %q): it may belong to another "+
				"program, so focussync leaves it alone. Set [state] path to a file of focussync's own; if this is a "+
				"damaged focussync state db, move it away and focussync rebuilds it", path, reason, printable(start)),
			kind:  ErrForeign,
			cause: reason,
		}
	}
	return &dbError{
		msg:   fmt.Sprintf("state db %s is damaged: %v", path, reason),
		kind:  ErrCorrupt,
		cause: reason,
	}
}

// printable returns the first bytes of a file for a message.
func printable(b []byte) string {
	if len(b) > 16 {
		b = b[:16]
	}
	return string(b)
}

// looksLikeBolt reports whether a file that failed verification still looks like a
// bbolt database (so a damaged one, likely focussync's) rather than another
// program's file: a bbolt magic number in either meta page, a later page whose
// header holds its own page number and a bbolt page type, a first page header that
// reads "page 0, meta", or nothing but zero bytes (what a crash of some
// filesystems leaves behind).
func looksLikeBolt(r io.ReaderAt, size int64) bool {
	head := make([]byte, min(size, 64<<10))
	n, _ := r.ReadAt(head, 0)
	head = head[:n]
	magic := ne.AppendUint32(nil, boltMagic)
	// Meta page 0 at offset 0; meta page 1 one page further, for any page size.
	if len(head) >= pageHeaderSize+4 && bytes.Equal(head[pageHeaderSize:pageHeaderSize+4], magic) {
		return true
	}
	for ps := int64(512); ps <= maxPageSize && ps+pageHeaderSize+4 <= size; ps *= 2 {
		b := make([]byte, 4)
		if _, err := r.ReadAt(b, ps+pageHeaderSize); err == nil && bytes.Equal(b, magic) {
			return true
		}
	}
	// Any later page whose header carries its own page number and a page type.
	for ps := int64(512); ps <= maxPageSize; ps *= 2 {
		for id := int64(2); id < 64 && (id+1)*ps <= size; id++ {
			var hdr [pageHeaderSize]byte
			if _, err := r.ReadAt(hdr[:], id*ps); err != nil {
				break
			}
			switch ne.Uint16(hdr[8:]) {
			case branchPageFlag, leafPageFlag, freelistPageFlag:
				if ne.Uint64(hdr[:]) == uint64(id) {
					return true
				}
			}
		}
	}
	// The header of page 0: id 0, flags "meta" (or a prefix of it, for a file cut short).
	hdr := append(ne.AppendUint64(nil, 0), ne.AppendUint16(nil, metaPageFlag)...)
	if len(head) > 0 && bytes.HasPrefix(hdr, head[:min(len(head), len(hdr))]) {
		return true
	}
	return allZero(r, size)
}

// allZero reports whether the file holds only zero bytes.
func allZero(r io.ReaderAt, size int64) bool {
	buf := make([]byte, 1<<20)
	for off := int64(0); off < size; off += int64(len(buf)) {
		n, err := r.ReadAt(buf, off)
		for _, c := range buf[:n] {
			if c != 0 {
				return false
			}
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return false
		}
	}
	return true
}

// moveAside renames the damaged db at path to path.damaged-<UTC time> (with a
// counter when that name is taken) and returns the new name.
func moveAside(path string, now time.Time) (string, error) {
	base := path + ".damaged-" + now.UTC().Format("20060102T150405Z")
	aside := base
	for i := 2; ; i++ {
		if _, err := os.Lstat(aside); errors.Is(err, os.ErrNotExist) {
			break
		}
		aside = fmt.Sprintf("%s-%d", base, i)
	}
	if err := os.Rename(path, aside); err != nil {
		return "", fmt.Errorf("move the damaged state db aside: %w", err)
	}
	return aside, nil
}

// guard runs fn with faults turned into panics and recovers any panic as an error
// wrapping ErrCorrupt. bbolt reads the file through a memory map: a file cut short
// under it faults (SIGBUS), and damaged pages can make it index out of range.
// Both must end the operation, not the process. The fault setting is per
// goroutine, so guard must run in the goroutine that reads.
func guard(path, op string, fn func() error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = &dbError{
				msg: fmt.Sprintf("state db %s is damaged: %s failed: %v; restart focussync: it moves the damaged "+
					"db aside and rebuilds it", path, op, r),
				kind: ErrCorrupt,
			}
		}
	}()
	return fn()
}

// view runs a read transaction under guard.
func (s *Store) view(op string, fn func(tx *bolt.Tx) error) error {
	return guard(s.path, op, func() error { return s.db.View(fn) })
}

// update runs a write transaction under guard.
func (s *Store) update(op string, fn func(tx *bolt.Tx) error) error {
	return guard(s.path, op, func() error { return s.db.Update(fn) })
}
