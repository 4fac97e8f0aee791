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
	up := &upload{name: name, size: int64(len(content)), sum: sum, tmp: tmp, order: displayOrder}
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, ok := e.tasks[task]; !ok {
		e.tasks[task] = taskHome{org, workspace}
	}
	created, err := e.commitLocked(task, []*upload{up})
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
	for _, en := range e.taskItemsLocked(task, withDeleted) {
		out = append(out, Stored{Attachment: e.attachmentLocked(en.id, &en.item), SHA256: hex.EncodeToString(en.sum[:])})
	}
	return out
}

// Open returns the content of an attachment. It fails when Options.DataDir is
// empty (content is not kept) or the id is unknown.
func (e *Emulator) Open(id int64) (io.ReadCloser, error) {
	e.mu.Lock()
	it, ok := e.items[id]
	e.mu.Unlock()
	switch {
	case !ok:
		return nil, fmt.Errorf("open attachment %d: no such attachment", id)
	case e.opts.DataDir == "":
		return nil, fmt.Errorf("open attachment %d: content is not kept (Options.DataDir is empty)", id)
	}
	f, err := os.Open(e.contentPath(it.task, id))
	if err != nil {
		return nil, fmt.Errorf("open attachment %d: %w", id, err)
	}
	return f, nil
}

// contentPath is where the content of an attachment is kept when
// Options.DataDir is set.
func (e *Emulator) contentPath(task, id int64) string {
	return filepath.Join(e.opts.DataDir, strconv.FormatInt(task, 10), strconv.FormatInt(id, 10))
}

// entry is an item with its id.
type entry struct {
	id int64
	item
}

// taskItemsLocked returns a task's items in display order, then id.
func (e *Emulator) taskItemsLocked(task int64, withDeleted bool) []entry {
	var out []entry
	for id, it := range e.items {
		if it.task == task && (withDeleted || it.live()) {
			out = append(out, entry{id, it})
		}
	}
	slices.SortFunc(out, func(a, b entry) int {
		return cmp.Or(cmp.Compare(a.order, b.order), cmp.Compare(a.id, b.id))
	})
	return out
}

// lookupLocked finds a live attachment of the route's task.
func (e *Emulator) lookupLocked(rt route) (item, *reply) {
	it, ok := e.items[rt.id]
	if !ok || it.task != rt.task || !it.live() {
		rep := errorReply(404, "task attachment %d does not exist", rt.id)
		return item{}, &rep
	}
	return it, nil
}

// commitLocked stores uploads that were received and validated, all or none,
// moving their content into place when it is kept.
func (e *Emulator) commitLocked(task int64, ups []*upload) ([]focus.Attachment, error) {
	stamp := e.stamp()
	for i, up := range ups {
		if up.tmp == "" {
			continue
		}
		dst := e.contentPath(task, e.nextID+int64(i)+1)
		err := os.MkdirAll(filepath.Dir(dst), 0o755)
		if err == nil {
			err = os.Rename(up.tmp, dst)
		}
		if err != nil {
			for j := range i {
				if ups[j].tmp != "" {
					_ = os.Rename(e.contentPath(task, e.nextID+int64(j)+1), ups[j].tmp)
				}
			}
			return nil, fmt.Errorf("store %s: %w", up.name, err)
		}
	}
	out := make([]focus.Attachment, len(ups))
	for i, up := range ups {
		up.tmp = "" // moved into place
		id := e.nextID + int64(i) + 1
		mime := detectMime(up.contentType, up.name)
		e.items[id] = item{
			task:    task,
			size:    up.size,
			order:   up.order,
			created: stamp,
			updated: stamp,
			name:    e.names.add(up.name),
			mime:    e.mimeLocked(mime),
			sum:     up.sum,
		}
		t := unixTime(stamp)
		out[i] = focus.Attachment{
			ID: id, TaskID: task, Name: up.name, Size: up.size, MimeType: mime,
			DisplayOrder: up.order, CreatedAt: t, UpdatedAt: t,
		}
	}
	e.nextID += int64(len(ups))
	return out, nil
}

// stamp is the time written into attachments, UTC and whole seconds, in Unix
// seconds.
func (e *Emulator) stamp() int64 { return e.opts.Now().UTC().Truncate(time.Second).Unix() }

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
