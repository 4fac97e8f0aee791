package cluster

import (
	"bytes"
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

// encodeHandover returns the handover file of task with recs.
func encodeHandover(t Task, writer string, recs map[string]state.FileRecord) []byte {
	h := handover{Version: handoverVersion, Task: t.String(), Writer: writer, Records: make([]state.FileRecord, 0, len(recs))}
	for _, r := range recs {
		if r.Managed() {
			h.Records = append(h.Records, r)
		}
	}
	sortRecords(h.Records)
	b, err := json.Marshal(h)
	if err != nil {
		panic("bug: handover does not encode: " + err.Error())
	}
	return append(b, '\n')
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

func sortRecords(rs []state.FileRecord) {
	for i := 1; i < len(rs); i++ {
		for j := i; j > 0 && rs[j].Path < rs[j-1].Path; j-- {
			rs[j], rs[j-1] = rs[j-1], rs[j]
		}
	}
}

// handoverWriter keeps one folder's handover file up to date.
type handoverWriter struct {
	fs   FS
	path string
	last []byte // what was last written
}

func newHandoverWriter(fsys FS, dir string, task int64) *handoverWriter {
	if fsys == nil {
		fsys = OSFS{}
	}
	return &handoverWriter{fs: fsys, path: filepath.Join(dir, HandoverName(task))}
}

// save writes data unless it is what was last written.
func (w *handoverWriter) save(data []byte, tag string) error {
	if bytes.Equal(data, w.last) {
		return nil
	}
	if err := w.fs.WriteFile(w.path, tag, data); err != nil {
		return fmt.Errorf("write %s: %w", w.path, err)
	}
	w.last = data
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
