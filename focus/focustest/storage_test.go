package focustest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

func TestEmulator_DataDir(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := newServer(t, Options{DataDir: dir})
	content := bytes.Repeat([]byte("0123456789abcdef"), 5000)
	r := postForm(t, s, taskPath(s, testTask)+"/bulk",
		filePart("files", "a.bin", string(content)), valuePart("display_orders[0]", "1"),
		filePart("files", "b.txt", "bee"), valuePart("display_orders[1]", "2"))
	wantStatus(t, "bulk", r, http.StatusCreated)
	items := decodeItems(t, r.body)
	seeded := s.Put(testOrg, testWS, testTask, "c.txt", []byte("by hand"), 3)
	for _, tc := range []struct {
		id   int64
		want []byte
	}{{items[0].ID, content}, {items[1].ID, []byte("bee")}, {seeded.ID, []byte("by hand")}} {
		rc, err := s.Open(tc.id)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || !bytes.Equal(got, tc.want) {
			t.Errorf("Open(%d): %d bytes, %v; want %d bytes", tc.id, len(got), err, len(tc.want))
		}
		onDisk, err := os.ReadFile(filepath.Join(dir, fmt.Sprint(testTask), fmt.Sprint(tc.id)))
		if err != nil || !bytes.Equal(onDisk, tc.want) {
			t.Errorf("file of %d: %d bytes, %v; want %d bytes", tc.id, len(onDisk), err, len(tc.want))
		}
	}

	// A refused batch leaves no file behind.
	s.RejectNames("*.exe")
	r = postForm(t, s, taskPath(s, testTask)+"/bulk",
		filePart("files", "d.txt", "d"), valuePart("display_orders[0]", "1"),
		filePart("files", "e.exe", "e"), valuePart("display_orders[1]", "2"))
	wantStatus(t, "refused bulk", r, http.StatusBadRequest)
	tmp, err := os.ReadDir(filepath.Join(dir, "tmp"))
	if err != nil || len(tmp) != 0 {
		t.Errorf("temporary files left: %v, %v", tmp, err)
	}
	kept, err := os.ReadDir(filepath.Join(dir, fmt.Sprint(testTask)))
	if err != nil || len(kept) != 3 {
		t.Errorf("%d files kept, want 3 (%v)", len(kept), err)
	}

	plain := newServer(t, Options{})
	a := plain.Put(testOrg, testWS, testTask, "a", []byte("x"), 1)
	if _, err := plain.Open(a.ID); err == nil {
		t.Error("Open without DataDir succeeded")
	}
	if _, err := s.Open(9999); err == nil {
		t.Error("Open of an unknown id succeeded")
	}
}

func TestEmulator_MimeType(t *testing.T) {
	t.Parallel()
	s := newServer(t, Options{})
	for _, tc := range []struct{ name, partType, want string }{
		{"a.pdf", "", "application/pdf"},
		{"a.PNG", "application/octet-stream", "image/png"},
		{"a.png", "text/csv", "text/csv"},
		{"noext", "", "application/octet-stream"},
	} {
		r := postForm(t, s, taskPath(s, testTask),
			part{field: "file", filename: tc.name, contentType: tc.partType, content: "x"}, valuePart("display_order", "1"))
		wantStatus(t, tc.name, r, http.StatusCreated)
		if got := decodeItem(t, r.body).MimeType; got != tc.want {
			t.Errorf("%s sent as %q: mime_type %q, want %q", tc.name, tc.partType, got, tc.want)
		}
	}
}

// patternBlock is what pattern repeats; its length is prime so that the
// content does not line up with buffer sizes.
var patternBlock = func() []byte {
	b := make([]byte, 65521)
	for i := range b {
		b[i] = byte(i*7 + i>>8)
	}
	return b
}()

// pattern generates left bytes of a repeating pattern without holding them.
type pattern struct {
	left int64
	off  int
}

func (p *pattern) Read(b []byte) (int, error) {
	if p.left == 0 {
		return 0, io.EOF
	}
	if int64(len(b)) > p.left {
		b = b[:p.left]
	}
	n := copy(b, patternBlock[p.off:])
	p.off = (p.off + n) % len(patternBlock)
	p.left -= int64(n)
	return n, nil
}

// TestEmulator_LargeUploadIsStreamed sends 256 MiB (64 MiB under the race
// detector) through a pipe with a computed Content-Length and checks that
// neither side held it in memory.
func TestEmulator_LargeUploadIsStreamed(t *testing.T) {
	const size = largeUpload
	s := newServer(t, Options{})
	want := sha256.New()
	if _, err := io.Copy(want, &pattern{left: size}); err != nil {
		t.Fatal(err)
	}

	boundary := "focustestboundary0123456789"
	head := fmt.Sprintf("--%s\r\nContent-Disposition: form-data; name=\"display_order\"\r\n\r\n1\r\n"+
		"--%s\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n", boundary, boundary)
	tail := fmt.Sprintf("\r\n--%s--\r\n", boundary)
	pr, pw := io.Pipe()
	go func() {
		mw := multipart.NewWriter(pw)
		if err := mw.SetBoundary(boundary); err != nil {
			pw.CloseWithError(err)
			return
		}
		if err := mw.WriteField("display_order", "1"); err != nil {
			pw.CloseWithError(err)
			return
		}
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", `form-data; name="file"; filename="big.bin"`)
		h.Set("Content-Type", "application/octet-stream")
		w, err := mw.CreatePart(h)
		if err == nil {
			_, err = io.Copy(w, &pattern{left: size})
		}
		if err == nil {
			err = mw.Close()
		}
		pw.CloseWithError(err)
	}()
	req, err := http.NewRequest(http.MethodPost, taskPath(s, testTask), pr)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = int64(len(head)) + size + int64(len(tail))
	req.Header.Set("Authorization", "Bearer "+testToken)
	req.Header.Set("Content-Type", "multipart/form-data; boundary="+boundary)

	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	r := do(t, s, req)
	runtime.ReadMemStats(&after)
	wantStatus(t, "large create", r, http.StatusCreated)
	if got := decodeItem(t, r.body).Size; got != size {
		t.Fatalf("size %d, want %d", got, size)
	}
	if got := s.Attachments(testTask)[0].SHA256; got != hex.EncodeToString(want.Sum(nil)) {
		t.Errorf("sha256 %s, want %x", got, want.Sum(nil))
	}
	if rq := s.Requests()[0]; rq.Chunked || rq.ContentLength != req.ContentLength {
		t.Errorf("logged chunked=%v length=%d, want a Content-Length of %d", rq.Chunked, rq.ContentLength, req.ContentLength)
	}
	allocated := after.TotalAlloc - before.TotalAlloc
	t.Logf("allocated %d KiB while uploading %d MiB; heap in use %d -> %d KiB",
		allocated>>10, size>>20, before.HeapInuse>>10, after.HeapInuse>>10)
	if allocated > 32<<20 {
		t.Errorf("allocated %d MiB while uploading %d MiB: the body is being buffered", allocated>>20, size>>20)
	}
}
