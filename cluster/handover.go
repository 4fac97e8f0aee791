package cluster

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strconv"

	"github.com/focussync/focussync/state"
)

// HandoverName returns the base name of the file in which a task's holder leaves
// its records for the process that takes over. Like the lease record it is a
// dotfile: never uploaded.
func HandoverName(task int64) string {
	return ".focussync-records-" + strconv.FormatInt(task, 10)
}

// handover is what a holder knows of the task's attachments: its file records,
// written after each pass. A process that takes the lease over plans from them
// (and one listing) rather than from its own records, which may be stale: a file
// renamed or deleted between the holder's last pass and the takeover is then
// renamed or deleted in Focus too, not left behind.
type handover struct {
	Version int                `json:"v"`
	Task    string             `json:"task"`
	Writer  string             `json:"writer"` // the state db the records come from
	Records []state.FileRecord `json:"records"`
}

const handoverVersion = 1

// maxHandoverSize bounds what is read of a handover file.
const maxHandoverSize = 64 << 20

// encodeHandover returns the handover file of task with the managed records
// that each yields, which must come in path order (as Store.EachRecord gives
// them). The records are encoded one at a time, as json.Marshal encodes the
// handover struct: no copy of the folder's records is held besides the result.
func encodeHandover(t Task, writer string, each func(func(state.FileRecord) error) error) ([]byte, error) {
	head, err := json.Marshal(handover{Version: handoverVersion, Task: t.String(), Writer: writer, Records: []state.FileRecord{}})
	if err != nil {
		panic("bug: handover does not encode: " + err.Error())
	}
	// head ends with "[]}": the records go between the brackets.
	var b bytes.Buffer
	b.Write(head[:len(head)-2])
	n := 0
	err = each(func(r state.FileRecord) error {
		if !r.Managed() {
			return nil
		}
		rb, err := json.Marshal(r)
		if err != nil {
			return fmt.Errorf("encode the record of %q: %w", r.Path, err)
		}
		if n > 0 {
			b.WriteByte(',')
		}
		n++
		b.Write(rb)
		return nil
	})
	if err != nil {
		return nil, err
	}
	b.WriteString("]}\n")
	return b.Bytes(), nil
}

// parseHandover decodes a handover file for task t.
func parseHandover(t Task, data []byte) (*handover, error) {
	var h handover
	if err := json.Unmarshal(data, &h); err != nil {
		return nil, fmt.Errorf("not a handover file: %w", err)
	}
	if h.Version != handoverVersion {
		return nil, fmt.Errorf("handover file version %d, want %d", h.Version, handoverVersion)
	}
	if h.Task != t.String() {
		return nil, fmt.Errorf("handover file is for task %s, not %s", h.Task, t)
	}
	return &h, nil
}

// handoverWriter keeps one folder's handover file up to date.
type handoverWriter struct {
	fs    FS
	path  string
	saved bool              // last holds the digest of a file written
	last  [sha256.Size]byte // the SHA-256 of what was last written
}

func newHandoverWriter(fsys FS, dir string, task int64) *handoverWriter {
	if fsys == nil {
		fsys = OSFS{}
	}
	return &handoverWriter{fs: fsys, path: filepath.Join(dir, HandoverName(task))}
}

// save writes data unless it is what was last written.
func (w *handoverWriter) save(data []byte, tag string) error {
	sum := sha256.Sum256(data)
	if w.saved && sum == w.last {
		return nil
	}
	if err := w.fs.WriteFile(w.path, tag, data); err != nil {
		return fmt.Errorf("write %s: %w", w.path, err)
	}
	w.saved, w.last = true, sum
	return nil
}

// load reads the handover file of task t; it returns nil, nil when there is none.
func (w *handoverWriter) load(t Task) (*handover, error) {
	data, err := w.fs.ReadFile(w.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if len(data) > maxHandoverSize {
		return nil, fmt.Errorf("%s: too large", w.path)
	}
	h, err := parseHandover(t, data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", w.path, err)
	}
	return h, nil
}
