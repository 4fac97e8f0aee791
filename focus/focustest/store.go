package focustest

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/focussync/focussync/focus"
)

// Stored is an attachment as the emulator holds it.
type Stored struct {
	focus.Attachment
	SHA256 string // hex SHA-256 of the content
}

// Put stores an attachment as if a person had attached it by hand in Focus,
// bypassing the quota and the request log, and returns it. Its task is placed
// in org and workspace if it was not seen before.
func (e *Emulator) Put(org, workspace, task int64, name string, content []byte, displayOrder int64) focus.Attachment {
	sum := sha256.Sum256(content)
	var tmp string
	if e.opts.DataDir != "" {
		f, err := e.tempFile()
		if err == nil {
			_, err = f.Write(content)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}
		if err != nil {
			panic(fmt.Sprintf("focustest: Put %q: %v", name, err))
		}
		tmp = f.Name()
	}
	up := &upload{name: name, size: int64(len(content)), sha: hex.EncodeToString(sum[:]), tmp: tmp, order: displayOrder}
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, ok := e.tasks[task]; !ok {
		e.tasks[task] = taskHome{org, workspace}
	}
	created, err := e.commitLocked(org, workspace, task, []*upload{up})
	if err != nil {
		panic(fmt.Sprintf("focustest: Put %q: %v", name, err))
	}
	return created[0]
}

// Attachments returns the live attachments of a task in display order, then id.
func (e *Emulator) Attachments(task int64) []Stored { return e.stored(task, false) }

// AllAttachments returns every attachment of a task, soft-deleted ones included,
// in display order, then id.
func (e *Emulator) AllAttachments(task int64) []Stored { return e.stored(task, true) }

func (e *Emulator) stored(task int64, withDeleted bool) []Stored {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []Stored
	for _, it := range e.taskItemsLocked(task, withDeleted) {
		out = append(out, Stored{Attachment: it.copyAttachment(), SHA256: it.sha})
	}
	return out
}

// Open returns the content of an attachment. It fails when Options.DataDir is
// empty (content is not kept) or the id is unknown.
func (e *Emulator) Open(id int64) (io.ReadCloser, error) {
	e.mu.Lock()
	it := e.items[id]
	e.mu.Unlock()
	switch {
	case it == nil:
		return nil, fmt.Errorf("open attachment %d: no such attachment", id)
	case it.file == "":
		return nil, fmt.Errorf("open attachment %d: content is not kept (Options.DataDir is empty)", id)
	}
	f, err := os.Open(it.file)
	if err != nil {
		return nil, fmt.Errorf("open attachment %d: %w", id, err)
	}
	return f, nil
}

// taskItemsLocked returns a task's items in display order, then id.
func (e *Emulator) taskItemsLocked(task int64, withDeleted bool) []*item {
	var out []*item
	for _, it := range e.items {
		if it.att.TaskID == task && (withDeleted || !it.att.Deleted()) {
			out = append(out, it)
		}
	}
	slices.SortFunc(out, func(a, b *item) int {
		return cmp.Or(cmp.Compare(a.att.DisplayOrder, b.att.DisplayOrder), cmp.Compare(a.att.ID, b.att.ID))
	})
	return out
}

// lookupLocked finds a live attachment of the route's task.
func (e *Emulator) lookupLocked(rt route) (*item, *reply) {
	it := e.items[rt.id]
	if it == nil || it.att.TaskID != rt.task || it.att.Deleted() {
		rep := errorReply(404, "task attachment %d does not exist", rt.id)
		return nil, &rep
	}
	return it, nil
}

func (it *item) copyAttachment() focus.Attachment {
	a := it.att
	if a.DeletedAt != nil {
		d := *a.DeletedAt
		a.DeletedAt = &d
	}
	return a
}

// commitLocked stores uploads that were received and validated, all or none,
// moving their content into place when it is kept.
func (e *Emulator) commitLocked(org, ws, task int64, ups []*upload) ([]focus.Attachment, error) {
	stamp := e.stamp()
	ids := make([]int64, len(ups))
	files := make([]string, len(ups))
	for i, up := range ups {
		ids[i] = e.nextID + int64(i) + 1
		if up.tmp == "" {
			continue
		}
		dst := filepath.Join(e.opts.DataDir, strconv.FormatInt(task, 10), strconv.FormatInt(ids[i], 10))
		err := os.MkdirAll(filepath.Dir(dst), 0o755)
		if err == nil {
			err = os.Rename(up.tmp, dst)
		}
		if err != nil {
			for j := range i {
				if files[j] != "" {
					_ = os.Rename(files[j], ups[j].tmp)
				}
			}
			return nil, fmt.Errorf("store %s: %w", up.name, err)
		}
		files[i] = dst
	}
	for _, up := range ups {
		up.tmp = "" // moved into place
	}
	e.nextID += int64(len(ups))
	out := make([]focus.Attachment, len(ups))
	for i, up := range ups {
		it := &item{
			att: focus.Attachment{
				ID:           ids[i],
				TaskID:       task,
				Name:         up.name,
				Size:         up.size,
				MimeType:     detectMime(up.contentType, up.name),
				DisplayOrder: up.order,
				CreatedAt:    stamp,
				UpdatedAt:    stamp,
			},
			org: org, ws: ws, sha: up.sha, file: files[i],
		}
		e.items[it.att.ID] = it
		out[i] = it.copyAttachment()
	}
	return out, nil
}

// stamp is the time written into attachments: UTC, whole seconds.
func (e *Emulator) stamp() time.Time { return e.opts.Now().UTC().Truncate(time.Second) }

// tempFile creates a file for an upload in progress under DataDir.
func (e *Emulator) tempFile() (*os.File, error) {
	dir := filepath.Join(e.opts.DataDir, "tmp")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create upload directory: %w", err)
	}
	return os.CreateTemp(dir, "upload-*")
}

// detectMime is the part's Content-Type, or the one of the name's extension when
// the part says nothing useful.
func detectMime(partType, name string) string {
	if mt, _, err := mime.ParseMediaType(partType); err == nil && mt != "application/octet-stream" {
		return partType
	}
	if t := mime.TypeByExtension(strings.ToLower(path.Ext(name))); t != "" {
		return t
	}
	return "application/octet-stream"
}

// wireAttachment is an attachment as the API writes it: deleted_at is null
// unless the item was deleted.
type wireAttachment struct {
	ID           int64   `json:"id"`
	TaskID       int64   `json:"task_id"`
	Name         string  `json:"name"`
	Size         int64   `json:"size"`
	MimeType     string  `json:"mime_type"`
	DisplayOrder int64   `json:"display_order"`
	CreatedAt    string  `json:"created_at"`
	UpdatedAt    string  `json:"updated_at"`
	DeletedAt    *string `json:"deleted_at"`
}

func toWire(a focus.Attachment) wireAttachment {
	w := wireAttachment{
		ID: a.ID, TaskID: a.TaskID, Name: a.Name, Size: a.Size, MimeType: a.MimeType,
		DisplayOrder: a.DisplayOrder,
		CreatedAt:    a.CreatedAt.UTC().Format(time.RFC3339),
		UpdatedAt:    a.UpdatedAt.UTC().Format(time.RFC3339),
	}
	if a.Deleted() {
		d := a.DeletedAt.UTC().Format(time.RFC3339)
		w.DeletedAt = &d
	}
	return w
}

type wireList struct {
	Items []wireAttachment `json:"items"`
}

func listBody(as []focus.Attachment) []byte {
	l := wireList{Items: make([]wireAttachment, 0, len(as))}
	for _, a := range as {
		l.Items = append(l.Items, toWire(a))
	}
	return jsonBody(l)
}

func jsonBody(v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic("bug: encoding a reply: " + err.Error())
	}
	return buf.Bytes()
}
