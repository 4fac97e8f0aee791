package focus

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/focussync/focussync/internal/safefs"
)

// A multipart body is laid out ahead of time as a list of segments: literal bytes
// (boundaries, part headers, small field values) and file sections. Its length is
// known before a byte is sent, so the request carries a Content-Length, and files
// are streamed from disk when the transport reads the body, so memory does not grow
// with file size.
//
// The part headers come from mime/multipart itself, so the boundary syntax and the
// escaping of the filename parameter (quotes and backslashes are escaped, other
// bytes including non-ASCII UTF-8 are sent as they are) are exactly those of the
// standard library; control characters, which no header may hold, become '_'.
// No RFC 2231 filename* parameter is added: RFC 7578 section 4.2 forbids it in
// multipart/form-data, and the attachment name travels in its own UTF-8 text
// field anyway.

// segment is literal bytes, or a whole file when up is set.
type segment struct {
	data []byte
	up   *Upload
}

// multipartBody is a request body laid out ahead of time.
type multipartBody struct {
	contentType string // multipart/form-data; boundary=...
	length      int64
	segs        []segment
}

// bodyBuilder lays out a multipartBody. Parts written through the multipart.Writer
// land in buf; a file part's contents are replaced by a file segment.
type bodyBuilder struct {
	buf  bytes.Buffer
	w    *multipart.Writer
	segs []segment
}

func newBodyBuilder() *bodyBuilder {
	b := &bodyBuilder{}
	b.buf.Grow(1 << 10) // the literal bytes between two files: boundary, fields, part header
	b.w = multipart.NewWriter(&b.buf)
	return b
}

// field adds a text field.
func (b *bodyBuilder) field(name, value string) {
	// Writing to a bytes.Buffer cannot fail.
	if err := b.w.WriteField(name, value); err != nil {
		panic("bug: multipart field into a buffer: " + err.Error())
	}
}

// file adds a file part whose contents will be streamed from u.Path.
func (b *bodyBuilder) file(field string, u *Upload, contentType string) {
	h := make(textproto.MIMEHeader)
	h.Set("Content-Disposition", multipart.FileContentDisposition(field, headerFilename(u.Name)))
	h.Set("Content-Type", contentType)
	if _, err := b.w.CreatePart(h); err != nil {
		panic("bug: multipart part into a buffer: " + err.Error())
	}
	b.flush()
	b.segs = append(b.segs, segment{up: u})
}

// headerFilename is the filename parameter for an attachment name: its last path
// element, with control characters (a line break would end the header) replaced
// by '_'. The exact name travels in its own text field, which carries any byte.
func headerFilename(name string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '_'
		}
		return r
	}, path.Base(name))
}

// flush moves the buffered literal bytes into a segment.
func (b *bodyBuilder) flush() {
	if b.buf.Len() > 0 {
		b.segs = append(b.segs, segment{data: bytes.Clone(b.buf.Bytes())})
		b.buf.Reset()
	}
}

// finish closes the multipart body and returns its layout.
func (b *bodyBuilder) finish() *multipartBody {
	if err := b.w.Close(); err != nil {
		panic("bug: multipart close into a buffer: " + err.Error())
	}
	b.flush()
	m := &multipartBody{contentType: b.w.FormDataContentType(), segs: b.segs}
	for _, s := range m.segs {
		if s.up != nil {
			m.length += s.up.Size
		} else {
			m.length += int64(len(s.data))
		}
	}
	return m
}

// uploadContentType returns the part Content-Type of u: its ContentType when set,
// else the type registered for the name's extension, else the type sniffed from
// the file's first 512 bytes, else application/octet-stream.
func uploadContentType(u *Upload) (string, error) {
	if u.ContentType != "" {
		return u.ContentType, nil
	}
	if t := mime.TypeByExtension(path.Ext(u.Name)); t != "" {
		return t, nil
	}
	if u.Size <= 0 {
		return "application/octet-stream", nil
	}
	f, err := openUpload(u)
	if err != nil {
		return "", err
	}
	defer f.Close()
	head := make([]byte, min(512, u.Size))
	n, err := io.ReadFull(f, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read %s: %w", u.Path, err)
	}
	if n == 0 {
		return "application/octet-stream", nil
	}
	return http.DetectContentType(head[:n]), nil
}

// openUpload opens the file of u without following symlinks or blocking, and
// checks on the open descriptor that it is the file described: a regular file with
// u's device, inode and size.
func openUpload(u *Upload) (*os.File, error) {
	root, rel := u.Root, u.Path
	if root == "" {
		root, rel = filepath.Dir(u.Path), filepath.Base(u.Path)
	}
	f, err := safefs.Open(root, rel)
	if err != nil {
		if safefs.Refused(err) {
			return nil, fmt.Errorf("%w: %w", ErrNotScanned, err)
		}
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("stat %s: %w", f.Name(), err)
	}
	dev, ino := safefs.FileID(fi)
	if u.Device != 0 && dev != u.Device || u.Inode != 0 && ino != u.Inode {
		f.Close()
		return nil, fmt.Errorf("%s: %w: another file is there now (device %d, inode %d; scanned device %d, inode %d)",
			f.Name(), ErrNotScanned, dev, ino, u.Device, u.Inode)
	}
	if fi.Size() != u.Size {
		f.Close()
		return nil, fmt.Errorf("%s: %d bytes, expected %d: %w", f.Name(), fi.Size(), u.Size, ErrFileChanged)
	}
	return f, nil
}

// sendState is shared by every reader of one request body (net/http may ask for a
// fresh body with GetBody): how many body bytes were handed to the transport, and
// the first local failure (a file that cannot be opened or changed size).
type sendState struct {
	sent atomic.Int64
	mu   sync.Mutex
	err  error
	sums map[*Upload][sha256.Size]byte // SHA-256 of each file read to its end and checked
}

// summed notes the SHA-256 of the bytes of u sent.
func (s *sendState) summed(u *Upload, sum [sha256.Size]byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sums == nil {
		s.sums = map[*Upload][sha256.Size]byte{}
	}
	s.sums[u] = sum
}

// publishSums stores in each Upload.Sum of the body the hex SHA-256 of its bytes
// sent, for the files read to their end. The caller's goroutine does it, once
// the request is over. The sums of a body share one string: the records made
// from them live as long as the folder is synced, and one object per request
// rather than per file is that much less for the garbage collector to visit.
func (s *sendState) publishSums(m *multipartBody) {
	s.mu.Lock()
	defer s.mu.Unlock()
	const n = 2 * sha256.Size // hex digits of a sum
	var ups []*Upload
	hexes := make([]byte, 0, len(s.sums)*n)
	for _, seg := range m.segs {
		if seg.up == nil || seg.up.Sum == nil {
			continue
		}
		if sum, ok := s.sums[seg.up]; ok {
			hexes = hex.AppendEncode(hexes, sum[:])
			ups = append(ups, seg.up)
		}
	}
	all := string(hexes)
	for _, u := range ups {
		*u.Sum, all = all[:n], all[n:]
	}
}

func (s *sendState) fail(err error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err == nil {
		s.err = err
	}
	return err
}

// localErr returns the first local failure, if any.
func (s *sendState) localErr() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// bodyReader streams a multipartBody. Each file is opened (openUpload) when the
// reader reaches it and closed when its last byte is read, so at most one file is
// open at a time. Exactly Upload.Size bytes are sent per file: a file that turns
// out shorter or longer, or (with Upload.ModTime) whose size or mtime differ once
// its last byte is read, fails the read with ErrFileChanged. The bytes sent are
// hashed as they go; when the file's last byte is read and its hash is not
// Upload.Hash, the read fails with ErrNotScanned; otherwise the hash is noted for
// Upload.Sum. Such a body is always cut short of its Content-Length (the closing
// boundary never follows), so no server can accept it: a request failed this way
// has not taken effect.
type bodyReader struct {
	body  *multipartBody
	state *sendState

	mu  sync.Mutex
	i   int   // current segment
	off int64 // offset in the current segment
	f   *os.File
	h   hash.Hash // SHA-256 of the current file's bytes sent, when it has a Hash or a Sum
	err error
}

func (m *multipartBody) reader(state *sendState) *bodyReader {
	return &bodyReader{body: m, state: state}
}

// Read implements io.Reader. It fills p from as many segments as fit, so that a
// body of small files goes out in few writes rather than one per segment.
func (r *bodyReader) Read(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for n < len(p) && r.err == nil {
		if r.i >= len(r.body.segs) {
			if n > 0 {
				return n, nil
			}
			return 0, io.EOF
		}
		seg := r.body.segs[r.i]
		if seg.up == nil {
			m := copy(p[n:], seg.data[r.off:])
			r.advance(int64(m), int64(len(seg.data)))
			n += m
			continue
		}
		m, err := r.readFile(seg.up, p[n:])
		r.state.sent.Add(int64(m))
		n += m
		if err != nil {
			r.err = r.state.fail(err)
			r.closeFile()
			return n, err
		}
	}
	if n > 0 || len(p) == 0 {
		return n, nil
	}
	return 0, r.err
}

// advance moves n bytes forward in a segment of the given size.
func (r *bodyReader) advance(n, size int64) {
	r.off += n
	r.state.sent.Add(n)
	if r.off >= size {
		r.i++
		r.off = 0
	}
}

// readFile reads the next bytes of u into p. It returns 0, nil when the file is
// done and the reader moved to the next segment.
func (r *bodyReader) readFile(u *Upload, p []byte) (int, error) {
	if r.f == nil {
		f, err := openUpload(u)
		if err != nil {
			return 0, err
		}
		r.f = f
		r.h = nil
		if u.Hash != "" || u.Sum != nil {
			r.h = sha256.New()
		}
	}
	left := u.Size - r.off
	if left == 0 {
		// One extra byte tells a file that grew since it was measured.
		var one [1]byte
		n, err := r.f.Read(one[:])
		if n > 0 {
			return 0, fmt.Errorf("%s: longer than %d bytes: %w", u.Path, u.Size, ErrFileChanged)
		}
		if err != nil && err != io.EOF {
			return 0, fmt.Errorf("read %s: %w", u.Path, err)
		}
		if !u.ModTime.IsZero() {
			// The bytes read are those of the file as it was measured only if
			// nothing wrote to it meanwhile.
			fi, err := r.f.Stat()
			if err != nil {
				return 0, fmt.Errorf("stat %s: %w", u.Path, err)
			}
			if fi.Size() != u.Size || !fi.ModTime().Equal(u.ModTime) {
				return 0, fmt.Errorf("%s: written to while it was sent (mtime %s, expected %s): %w",
					u.Path, fi.ModTime().Format(time.RFC3339Nano), u.ModTime.Format(time.RFC3339Nano), ErrFileChanged)
			}
		}
		if r.h != nil {
			var sum [sha256.Size]byte
			r.h.Sum(sum[:0])
			var got [2 * sha256.Size]byte
			hex.Encode(got[:], sum[:])
			if u.Hash != "" && string(got[:]) != u.Hash {
				return 0, fmt.Errorf("%s: %w: the bytes read have SHA-256 %.12s, the scan found %.12s (changed in place since the scan)",
					u.Path, ErrNotScanned, got[:], u.Hash)
			}
			if u.Sum != nil {
				r.state.summed(u, sum)
			}
		}
		r.closeFile()
		r.i++
		r.off = 0
		return 0, nil
	}
	n, err := r.f.Read(p[:min(int64(len(p)), left)])
	if r.h != nil {
		r.h.Write(p[:n])
	}
	r.off += int64(n)
	switch {
	case err == io.EOF:
		if r.off < u.Size {
			return n, fmt.Errorf("%s: ended after %d of %d bytes: %w", u.Path, r.off, u.Size, ErrFileChanged)
		}
		err = nil
	case err != nil:
		return n, fmt.Errorf("read %s: %w", u.Path, err)
	}
	return n, nil
}

func (r *bodyReader) closeFile() {
	if r.f != nil {
		r.f.Close()
		r.f = nil
	}
}

// Close closes the open file, if any; later reads fail.
func (r *bodyReader) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closeFile()
	if r.err == nil {
		r.err = errors.New("request body closed")
	}
	return nil
}
