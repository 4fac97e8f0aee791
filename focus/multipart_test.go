package focus

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// layout builds the body of a create of u.
func layout(t *testing.T, u Upload) *multipartBody {
	t.Helper()
	b := newBodyBuilder()
	b.field("name", u.Name)
	if err := addFile(b, "file", &u); err != nil {
		t.Fatal(err)
	}
	return b.finish()
}

func TestBodyReader_LengthAndReplay(t *testing.T) {
	u := writeFile(t, t.TempDir(), "data.txt", bytes.Repeat([]byte("0123456789"), 10000), 0)
	mb := layout(t, u)
	var st sendState
	first, err := io.ReadAll(mb.reader(&st))
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(first)) != mb.length || st.sent.Load() != mb.length {
		t.Errorf("read %d bytes, counted %d, laid out %d", len(first), st.sent.Load(), mb.length)
	}
	again, err := io.ReadAll(mb.reader(&sendState{}))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first, again) {
		t.Error("a second reader of the same body read different bytes")
	}
	_, params, _ := strings.Cut(mb.contentType, "boundary=")
	mr := multipart.NewReader(bytes.NewReader(first), params)
	for _, want := range []string{"name", "file"} {
		p, err := mr.NextPart()
		if err != nil {
			t.Fatal(err)
		}
		if p.FormName() != want {
			t.Errorf("part %q, want %q", p.FormName(), want)
		}
	}
}

// TestBodyReader_SmallFilesInOneRead: a bulk body of ten small files fits in one
// read of a large buffer (one write on the connection, not one per part), and
// holds every field and file.
func TestBodyReader_SmallFilesInOneRead(t *testing.T) {
	dir := t.TempDir()
	b := newBodyBuilder()
	var us []Upload
	for i := range 10 {
		name := fmt.Sprintf("small%d.txt", i)
		us = append(us, writeFile(t, dir, name, []byte(strings.Repeat(name, 20)), int64(i)))
		b.field(fmt.Sprintf("names[%d]", i), name)
	}
	for i := range us {
		if err := addFile(b, "files", &us[i]); err != nil {
			t.Fatal(err)
		}
	}
	mb := b.finish()
	r := mb.reader(&sendState{})
	buf := make([]byte, 32<<10)
	n, err := r.Read(buf)
	if err != nil || int64(n) != mb.length {
		t.Fatalf("first read: %d bytes, %v; want the whole body, %d bytes", n, err, mb.length)
	}
	if n, err := r.Read(buf); n != 0 || err != io.EOF {
		t.Errorf("second read: %d, %v; want 0, EOF", n, err)
	}
	form, err := multipart.NewReader(bytes.NewReader(buf[:mb.length]), strings.TrimPrefix(mb.contentType, "multipart/form-data; boundary=")).ReadForm(1 << 20)
	if err != nil {
		t.Fatal(err)
	}
	if len(form.Value) != 10 || len(form.File["files"]) != 10 {
		t.Errorf("form holds %d fields and %d files, want 10 and 10", len(form.Value), len(form.File["files"]))
	}
}

func TestBodyReader_OpensLazily(t *testing.T) {
	u := writeFile(t, t.TempDir(), "late.txt", []byte("first"), 0)
	mb := layout(t, u)
	// The file is read when the body is, not when the request is laid out.
	if err := os.WriteFile(u.Path, []byte("later"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := mb.reader(&sendState{})
	got, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(got, []byte("later")) {
		t.Errorf("body does not hold the file's current content: %q", got)
	}
	if r.f != nil {
		t.Error("the file is still open after its last byte was read")
	}
	if err := os.Remove(u.Path); err != nil {
		t.Fatal(err)
	}
	_, err = io.ReadAll(mb.reader(&sendState{}))
	if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), u.Path) {
		t.Errorf("reading a removed file: err = %v, want one naming %s", err, u.Path)
	}
}

// readSome reads at least n bytes of r.
func readSome(t *testing.T, r io.Reader, n int) {
	t.Helper()
	buf := make([]byte, 512)
	for read := 0; read < n; {
		k, err := r.Read(buf)
		if err != nil {
			t.Fatalf("after %d bytes: %v", read, err)
		}
		read += k
	}
}

func TestBodyReader_FileChangesWhileSent(t *testing.T) {
	dir := t.TempDir()
	t.Run("grows", func(t *testing.T) {
		u := writeFile(t, dir, "grows.bin", bytes.Repeat([]byte{1}, 4096), 0)
		st := &sendState{}
		r := layout(t, u).reader(st)
		readSome(t, r, 1024)
		f, err := os.OpenFile(u.Path, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		f.Write([]byte("more"))
		f.Close()
		_, err = io.ReadAll(r)
		if !errors.Is(err, ErrFileChanged) || !errors.Is(st.localErr(), ErrFileChanged) {
			t.Errorf("err = %v, recorded %v, want ErrFileChanged", err, st.localErr())
		}
	})
	t.Run("shrinks", func(t *testing.T) {
		u := writeFile(t, dir, "shrinks.bin", bytes.Repeat([]byte{1}, 4096), 0)
		r := layout(t, u).reader(&sendState{})
		readSome(t, r, 1024)
		if err := os.Truncate(u.Path, 2000); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadAll(r); !errors.Is(err, ErrFileChanged) {
			t.Errorf("err = %v, want ErrFileChanged", err)
		}
	})
	t.Run("closed", func(t *testing.T) {
		u := writeFile(t, dir, "closed.bin", bytes.Repeat([]byte{1}, 4096), 0)
		r := layout(t, u).reader(&sendState{})
		readSome(t, r, 1024)
		r.Close()
		if _, err := r.Read(make([]byte, 10)); err == nil {
			t.Error("read after Close succeeded")
		}
		if r.f != nil {
			t.Error("Close left the file open")
		}
	})
}

func TestUploadContentType(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, data, override, want string
	}{
		{"x.pdf", "whatever", "", "application/pdf"},
		{"x", "<html><body>hi</body></html>", "", "text/html; charset=utf-8"},
		{"x", "\x00\x01\x02", "", "application/octet-stream"},
		{"empty", "", "", "application/octet-stream"},
		{"x.pdf", "whatever", "application/x-mine", "application/x-mine"},
	} {
		u := writeFile(t, dir, "f", []byte(tc.data), 0)
		u.Name, u.ContentType = tc.name, tc.override
		got, err := uploadContentType(&u)
		if err != nil || got != tc.want {
			t.Errorf("content type of %q %q = %q, %v; want %q", tc.name, tc.data, got, err, tc.want)
		}
	}
	_, err := uploadContentType(&Upload{Path: filepath.Join(dir, "none"), Name: "none", Size: 3})
	if err == nil || !strings.Contains(err.Error(), "none") {
		t.Errorf("missing file: err = %v, want one naming it", err)
	}
}

func TestBodyBuilder_ControlCharactersInName(t *testing.T) {
	name := "evil\r\nX-Injected: 1\r\n\r\nname.txt"
	u := writeFile(t, t.TempDir(), "evil", []byte("body"), 0)
	u.Name = name
	mb := layout(t, u)
	raw, err := io.ReadAll(mb.reader(&sendState{}))
	if err != nil {
		t.Fatal(err)
	}
	_, boundary, _ := strings.Cut(mb.contentType, "boundary=")
	mr := multipart.NewReader(bytes.NewReader(raw), boundary)
	p, err := mr.NextPart()
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := io.ReadAll(p); string(got) != name {
		t.Errorf("name field = %q, want %q", got, name)
	}
	p, err = mr.NextPart()
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Header) != 2 || p.Header.Get("X-Injected") != "" {
		t.Errorf("file part headers = %v", p.Header)
	}
	if got, want := p.FileName(), "evil__X-Injected: 1____name.txt"; got != want {
		t.Errorf("filename = %q, want %q", got, want)
	}
	if got, _ := io.ReadAll(p); string(got) != "body" {
		t.Errorf("file content = %q", got)
	}
}
