package focustest

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/focussync/focussync/focus"
)

// upload is one file part, received (hashed, and written under DataDir when
// content is kept) but not yet stored.
type upload struct {
	filename    string // the part's filename
	contentType string // the part's Content-Type
	size        int64
	sum         [32]byte // SHA-256 of the content
	tmp         string   // temporary file holding the content, "" when not kept

	name    string // the attachment name, once validated
	order   int64
	nameSet bool
}

// form is a create or bulk create request body, read to the end.
type form struct {
	files  []*upload
	names  [focus.MaxBulkFiles]optional[string] // by index: names[i], or name
	orders [focus.MaxBulkFiles]optional[int64]  // display_orders[i], or display_order
	value  bytes.Buffer                         // reads the non-file parts, one after the other
}

// optional is a field that a body may give or leave out.
type optional[T any] struct {
	v  T
	ok bool
}

func (o optional[T]) get() (T, bool) { return o.v, o.ok }

// cleanup removes the temporary files of uploads that were not stored.
func (f *form) cleanup() {
	for _, up := range f.files {
		if up.tmp != "" {
			_ = os.Remove(up.tmp)
		}
	}
}

// badRequest is a refusal of the body, as opposed to a failure of the emulator.
type badRequest struct{ msg string }

func (b badRequest) Error() string { return b.msg }

func badf(format string, args ...any) error { return badRequest{fmt.Sprintf(format, args...)} }

// maxValue bounds a non-file part.
const maxValue = 64 << 10

// readForm streams a multipart body: file parts are hashed (and written to disk
// when content is kept) as they arrive, never held in memory. bulk selects the
// fields of a bulk create.
func (e *Emulator) readForm(r *http.Request, rec *Request, bulk bool) (*form, error) {
	f := &form{}
	mr, err := r.MultipartReader()
	if err != nil {
		return f, badf("the body must be multipart/form-data: %v", err)
	}
	// A well-formed body has a file, a name and a display order per file.
	parts := 3
	if bulk {
		parts = 3 * focus.MaxBulkFiles
	}
	rec.Fields = make([]string, 0, parts)
	rec.PartContentTypes = make([]string, 0, parts)
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return f, nil
		}
		if err != nil {
			return f, badf("malformed multipart body: %v", err)
		}
		field := p.FormName()
		rec.Fields = append(rec.Fields, field)
		rec.PartContentTypes = append(rec.PartContentTypes, p.Header.Get("Content-Type"))
		if err := e.readPart(f, p, field, rec, bulk); err != nil {
			return f, err
		}
	}
}

func (e *Emulator) readPart(f *form, p *multipart.Part, field string, rec *Request, bulk bool) error {
	fileField, nameField, orderField := "file", "name", "display_order"
	if bulk {
		fileField = "files"
	}
	if field == fileField {
		switch {
		case !bulk && len(f.files) == 1:
			return badf("more than one file part")
		case bulk && len(f.files) == focus.MaxBulkFiles:
			return badf("too many files: at most %d per request", focus.MaxBulkFiles)
		}
		up, err := e.receive(p)
		if up != nil {
			f.files = append(f.files, up)
			rec.Files++
		}
		return err
	}
	idx := 0
	if bulk {
		var ok bool
		if nameField, idx, ok = indexed(field, "names"); !ok {
			if orderField, idx, ok = indexed(field, "display_orders"); !ok {
				return badf("unknown field %q", field)
			}
			nameField = ""
		} else {
			orderField = ""
		}
		if idx < 0 || idx >= focus.MaxBulkFiles {
			return badf("field %q: index out of range 0..%d", field, focus.MaxBulkFiles-1)
		}
	}
	switch field {
	case nameField:
		if f.names[idx].ok {
			return badf("field %q given twice", field)
		}
		v, err := f.readValue(p, field)
		if err != nil {
			return err
		}
		f.names[idx] = optional[string]{v, true}
	case orderField:
		if f.orders[idx].ok {
			return badf("field %q given twice", field)
		}
		v, err := f.readValue(p, field)
		if err != nil {
			return err
		}
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil {
			return badf("field %q: %q is not an integer", field, v)
		}
		f.orders[idx] = optional[int64]{n, true}
	default:
		return badf("unknown field %q", field)
	}
	return nil
}

// indexed parses "base[i]".
func indexed(field, base string) (string, int, bool) {
	rest, ok := strings.CutPrefix(field, base+"[")
	if !ok {
		return "", 0, false
	}
	digits, ok := strings.CutSuffix(rest, "]")
	if !ok {
		return "", 0, false
	}
	i, err := strconv.Atoi(digits)
	if err != nil {
		return "", 0, false
	}
	return field, i, true
}

// readValue reads a non-file part through the form's buffer, which the parts
// of one body share.
func (f *form) readValue(p *multipart.Part, field string) (string, error) {
	f.value.Reset()
	if _, err := f.value.ReadFrom(io.LimitReader(p, maxValue+1)); err != nil {
		return "", badf("field %q: %v", field, err)
	}
	if f.value.Len() > maxValue {
		return "", badf("field %q: longer than %d bytes", field, maxValue)
	}
	return f.value.String(), nil
}

// copyBuffers are the buffers file parts are read through: io.Copy would make
// one per file, and a large first sync sends hundreds of thousands.
var copyBuffers = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// receive hashes a file part, writing it under DataDir when content is kept.
func (e *Emulator) receive(p *multipart.Part) (*upload, error) {
	up := &upload{filename: p.FileName(), contentType: p.Header.Get("Content-Type")}
	h := sha256.New()
	var dst io.Writer = h
	var tmp *os.File
	if e.opts.DataDir != "" {
		var err error
		if tmp, err = e.tempFile(); err != nil {
			return nil, fmt.Errorf("receive %q: %w", up.filename, err)
		}
		up.tmp = tmp.Name()
		dst = io.MultiWriter(h, tmp)
	}
	buf := copyBuffers.Get().(*[]byte)
	n, err := io.CopyBuffer(dst, p, *buf)
	copyBuffers.Put(buf)
	up.size = n
	if tmp != nil {
		if cerr := tmp.Close(); err == nil && cerr != nil {
			return up, fmt.Errorf("receive %q: %w", up.filename, cerr)
		}
	}
	if err != nil {
		return up, badf("reading file %q: %v", up.filename, err)
	}
	h.Sum(up.sum[:0])
	return up, nil
}

// failure turns an error of readForm or commit into a reply.
func failure(err error) reply {
	var bad badRequest
	if errors.As(err, &bad) {
		return errorReply(http.StatusBadRequest, "%s", bad.msg)
	}
	return errorReply(http.StatusInternalServerError, "%v", err)
}

func (e *Emulator) create(r *http.Request, rt route, rec *Request) reply {
	f, err := e.readForm(r, rec, false)
	defer f.cleanup()
	if err != nil {
		return failure(err)
	}
	if len(f.files) == 0 {
		return errorReply(http.StatusBadRequest, "file is required")
	}
	up := f.files[0]
	up.name = up.filename
	if name, ok := f.names[0].get(); ok {
		if name == "" {
			return errorReply(http.StatusBadRequest, "name must not be empty")
		}
		up.name = name
	}
	if up.name == "" {
		return errorReply(http.StatusBadRequest, "name is required when the file part has no filename")
	}
	order, ok := f.orders[0].get()
	if !ok {
		return errorReply(http.StatusBadRequest, "display_order is required")
	}
	up.order = order
	created, rep := e.store(rt, f.files)
	if rep != nil {
		return *rep
	}
	if e.emptyCreated() {
		return reply{status: http.StatusCreated}
	}
	return reply{status: http.StatusCreated, body: jsonBody(toWire(created[0]))}
}

func (e *Emulator) bulk(r *http.Request, rt route, rec *Request) reply {
	f, err := e.readForm(r, rec, true)
	defer f.cleanup()
	if err != nil {
		return failure(err)
	}
	if len(f.files) == 0 {
		return errorReply(http.StatusBadRequest, "files is required: 1 to %d files", focus.MaxBulkFiles)
	}
	for i := range focus.MaxBulkFiles {
		hasName, hasOrder := f.names[i].ok, f.orders[i].ok
		if i >= len(f.files) && (hasName || hasOrder) {
			return errorReply(http.StatusBadRequest, "names[%d] or display_orders[%d] has no file (%d files sent)", i, i, len(f.files))
		}
	}
	for i, up := range f.files {
		up.name = up.filename
		if name, ok := f.names[i].get(); ok {
			if name == "" {
				return errorReply(http.StatusBadRequest, "names[%d] must not be empty", i)
			}
			up.name = name
		}
		if up.name == "" {
			return errorReply(http.StatusBadRequest, "names[%d] is required when files part %d has no filename", i, i)
		}
		order, ok := f.orders[i].get()
		if !ok {
			return errorReply(http.StatusBadRequest, "display_orders[%d] is required", i)
		}
		up.order = order
	}
	created, rep := e.store(rt, f.files)
	if rep != nil {
		return *rep
	}
	if e.emptyCreated() {
		return reply{status: http.StatusCreated}
	}
	return reply{status: http.StatusCreated, body: listBody(created)}
}

// store applies the refusal knobs to every upload, then stores all or none.
func (e *Emulator) store(rt route, ups []*upload) ([]focus.Attachment, *reply) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, up := range ups {
		if msg := e.refusalLocked(up.name, up.size); msg != "" {
			rep := errorReply(http.StatusBadRequest, "%s", msg)
			return nil, &rep
		}
	}
	created, err := e.commitLocked(rt.task, ups)
	if err != nil {
		rep := failure(err)
		return nil, &rep
	}
	return created, nil
}

func (e *Emulator) emptyCreated() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.empty201
}

// drain reads and discards what is left of a request body.
func drain(r *http.Request) {
	if r.Body != nil {
		_, _ = io.Copy(io.Discard, r.Body)
	}
}
