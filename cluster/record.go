package cluster

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// record is the lease record kept on the share: who holds the task's lease. The
// holder rewrites it every renewal (Beat grows), so that a standby sees it change.
type record struct {
	Version   int       `json:"v"`
	Task      string    `json:"task"`
	Instance  string    `json:"instance,omitempty"` // "" when released
	Node      string    `json:"node,omitempty"`
	Folder    string    `json:"folder,omitempty"`
	Since     time.Time `json:"since,omitzero"` // by the holder's clock: shown, never compared
	Epoch     uint64    `json:"epoch"`          // grows with every claim
	Beat      uint64    `json:"beat"`           // grows with every renewal
	Takeovers int       `json:"takeovers"`
	// Writer identifies the state db of the last process that held the lease: a
	// process whose own id differs lists the task and adopts before it writes.
	Writer string `json:"writer,omitempty"`
	TTL    string `json:"ttl,omitempty"` // the holder's lease_ttl, for people reading the file
}

const recordVersion = 1

// released reports whether nobody holds the lease the record describes.
func (r *record) released() bool { return r == nil || r.Instance == "" }

func (r *record) holder() Holder {
	if r.released() {
		return Holder{}
	}
	return Holder{Node: r.Node, Instance: r.Instance, Folder: r.Folder, Since: r.Since}
}

func (r *record) encode() []byte {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		panic("bug: lease record does not encode: " + err.Error())
	}
	return append(b, '\n')
}

// parseRecord decodes a lease record; content that is not one (damaged, or
// replaced by something else) is an error, and the caller treats the lease as held
// by an unknown process until the content stops changing.
func parseRecord(data []byte) (*record, error) {
	var r record
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("not a lease record: %w", err)
	}
	if r.Version != recordVersion {
		return nil, fmt.Errorf("lease record version %d, want %d", r.Version, recordVersion)
	}
	return &r, nil
}

// FS is the file system calls the share coordinator makes on the lease record.
// Tests wrap it to play a network file system's caches.
type FS interface {
	// ReadFile returns the content of the regular file name. It never blocks on a
	// FIFO or device and never follows a symbolic link: such a file is an error.
	// A missing file is an error wrapping fs.ErrNotExist.
	ReadFile(name string) ([]byte, error)
	// WriteFile replaces name with data atomically: a temporary file in the same
	// directory, written, synced and renamed over name. tag keeps the temporary
	// names of two processes apart.
	WriteFile(name, tag string, data []byte) error
	// CreateFile creates name with data, failing with an error wrapping
	// fs.ErrExist when it exists: the file server decides between two creators
	// (O_EXCL is atomic on NFSv3 and later and on SMB).
	CreateFile(name string, data []byte) error
}

// OSFS is the real file system.
type OSFS struct{}

var _ FS = OSFS{}

// maxReadSize bounds what ReadFile reads: a lease record is far smaller, a
// handover file of a million records about as large.
const maxReadSize = maxHandoverSize

// ReadFile implements FS.
func (OSFS) ReadFile(name string) ([]byte, error) {
	f, err := os.OpenFile(name, os.O_RDONLY|nonBlock|noFollow, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, &fs.PathError{Op: "read", Path: name, Err: errors.New("not a regular file")}
	}
	data, err := io.ReadAll(io.LimitReader(f, maxReadSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxReadSize {
		return nil, &fs.PathError{Op: "read", Path: name, Err: errors.New("too large")}
	}
	return data, nil
}

// WriteFile implements FS.
func (OSFS) WriteFile(name, tag string, data []byte) error {
	tmp := filepath.Join(filepath.Dir(name), filepath.Base(name)+"."+tag+".tmp")
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|noFollow, 0o644)
	if err != nil {
		return err
	}
	err = writeAndClose(f, data)
	if err == nil {
		err = os.Rename(tmp, name)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// CreateFile implements FS.
func (OSFS) CreateFile(name string, data []byte) error {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL|noFollow, 0o644)
	if err != nil {
		return err
	}
	return writeAndClose(f, data)
}

// writeAndClose writes data to f, syncs it to disk and closes f, returning the
// first error.
func writeAndClose(f *os.File, data []byte) error {
	_, err := f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// NewInstanceID returns a fresh random id for a process: two processes on one
// machine are two contenders.
func NewInstanceID() string {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("bug: crypto/rand failed: " + err.Error())
	}
	return hex.EncodeToString(b[:])
}
