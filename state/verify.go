package state

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"slices"
)

// The bbolt file format (version 2), as far as verifyImage needs it. All integers
// are in the machine's byte order, as bbolt writes them.
const (
	boltMagic        = 0xED0CDAED
	boltVersion      = 2
	pageHeaderSize   = 16 // id uint64, flags uint16, count uint16, overflow uint32
	elemSize         = 16 // branch: pos, ksize uint32, pgid uint64; leaf: flags, pos, ksize, vsize uint32
	bucketHeaderSize = 16 // root pgid uint64, sequence uint64
	metaSize         = 64 // magic, version, pageSize, flags uint32; root bucket 16; freelist, pgid, txid, checksum uint64

	branchPageFlag   = 0x01
	leafPageFlag     = 0x02
	metaPageFlag     = 0x04
	freelistPageFlag = 0x10
	bucketLeafFlag   = 0x01

	noFreelist = ^uint64(0)

	// The largest page size accepted: bbolt looks for the second meta page up to
	// 16 MiB into the file.
	maxPageSize = 16 << 20
)

var ne = binary.NativeEndian

// boltMeta is a decoded meta page.
type boltMeta struct {
	pageSize uint32
	root     uint64 // page of the root bucket
	freelist uint64
	hwm      uint64 // high water mark: the number of pages in use
	txid     uint64
}

// parseMeta decodes and validates the meta page in b (a whole page, or at least its
// header and meta), as bbolt's Meta.Validate does.
func parseMeta(b []byte) (boltMeta, error) {
	if len(b) < pageHeaderSize+metaSize {
		return boltMeta{}, errors.New("shorter than a meta page")
	}
	m := b[pageHeaderSize:]
	if ne.Uint32(m[0:]) != boltMagic {
		return boltMeta{}, errors.New("no bbolt magic number")
	}
	if v := ne.Uint32(m[4:]); v != boltVersion {
		return boltMeta{}, fmt.Errorf("bbolt format version %d, not %d", v, boltVersion)
	}
	h := fnv.New64a()
	h.Write(m[:56])
	if ne.Uint64(m[56:]) != h.Sum64() {
		return boltMeta{}, errors.New("checksum mismatch")
	}
	return boltMeta{
		pageSize: ne.Uint32(m[8:]),
		root:     ne.Uint64(m[16:]),
		freelist: ne.Uint64(m[32:]),
		hwm:      ne.Uint64(m[40:]),
		txid:     ne.Uint64(m[48:]),
	}, nil
}

// verifyImage checks, with plain reads and no memory map, everything bbolt touches
// when it opens the file and reads any key: both meta pages, the page count
// against the file size, the freelist, and every branch and leaf page reachable
// from the root bucket (headers, element bounds, key order, sub-buckets, no page
// referenced twice or both live and free). A nil result means bbolt can open and
// read the file without a fault or a panic. The error says what is wrong in words.
//
// It is stricter than bbolt in one way: both meta pages must be valid. bbolt would
// fall back to the older one, which silently forgets the last commit; focussync
// rebuilds by adoption instead, which cannot duplicate an upload.
func verifyImage(r io.ReaderAt, size int64) error {
	_, err := walkImage(r, size)
	return err
}

// walkImage is verifyImage; it returns the walk, whose seen set holds every live page.
func walkImage(r io.ReaderAt, size int64) (*verifier, error) {
	if size < 2*pageHeaderSize+metaSize {
		return nil, fmt.Errorf("the file is %d bytes long, too short to hold its two meta pages", size)
	}
	head := make([]byte, min(size, 0x1000))
	if _, err := r.ReadAt(head, 0); err != nil {
		return nil, fmt.Errorf("read the first meta page: %w", err)
	}
	m0, err := parseMeta(head)
	if err != nil {
		return nil, fmt.Errorf("meta page 0: %v", err)
	}
	ps := int64(m0.pageSize)
	if ps < 512 || ps > maxPageSize || ps&(ps-1) != 0 {
		return nil, fmt.Errorf("meta page 0: page size %d is not a power of two between 512 and %d", ps, maxPageSize)
	}
	if size < 2*ps {
		return nil, fmt.Errorf("the file is %d bytes long, shorter than its two meta pages of %d bytes", size, ps)
	}
	p1 := make([]byte, pageHeaderSize+metaSize)
	if _, err := r.ReadAt(p1, ps); err != nil {
		return nil, fmt.Errorf("read meta page 1: %w", err)
	}
	m1, err := parseMeta(p1)
	if err != nil {
		return nil, fmt.Errorf("meta page 1: %v", err)
	}
	if m1.pageSize != m0.pageSize {
		return nil, fmt.Errorf("the meta pages disagree on the page size (%d and %d)", m0.pageSize, m1.pageSize)
	}
	m := m0
	if m1.txid > m0.txid {
		m = m1
	}
	if m.hwm < 3 || m.hwm > uint64(size/ps) {
		return nil, fmt.Errorf("the file holds %d pages of %d bytes, but its meta page counts %d: it was cut short",
			size/ps, ps, m.hwm)
	}
	v := &verifier{r: r, ps: ps, hwm: m.hwm, seen: make([]uint64, (m.hwm+63)/64)}
	v.mark(0)
	v.mark(1)
	free := map[uint64]bool{}
	if m.freelist != noFreelist {
		if free, err = v.freelist(m.freelist); err != nil {
			return nil, err
		}
	}
	if m.root < 2 || m.root >= m.hwm {
		return nil, fmt.Errorf("the root bucket's page %d is outside the file's %d pages", m.root, m.hwm)
	}
	if err := v.tree(m.root, nil, nil, 0, bucketAt{kind: inRoot}); err != nil {
		return nil, err
	}
	for id := range free {
		if v.isSeen(id) && id != m.freelist {
			return nil, fmt.Errorf("page %d is both in use and on the freelist", id)
		}
	}
	return v, nil
}

// verifier walks a bbolt file's pages; seen holds every page visited, one bit
// per page.
type verifier struct {
	r    io.ReaderAt
	ps   int64
	hwm  uint64
	seen []uint64
	// bufs holds one page buffer per depth of the walk, reused from one page to
	// the next: a page's keys bound its children's, so it stays unchanged while
	// the pages below it are read into the deeper buffers.
	bufs [][]byte
	// layout is the first value or bucket found that focussync's layout does
	// not allow (see bucketAt). It does not stop the walk: whether the file is
	// focussync's at all is decided later, from its buckets, by Open.
	layout error
}

func (v *verifier) mark(id uint64)        { v.seen[id/64] |= 1 << (id % 64) }
func (v *verifier) isSeen(id uint64) bool { return v.seen[id/64]&(1<<(id%64)) != 0 }

// buffer returns the page buffer of depth, of n bytes.
func (v *verifier) buffer(depth int, n int64) []byte {
	for len(v.bufs) <= depth {
		v.bufs = append(v.bufs, nil)
	}
	if int64(cap(v.bufs[depth])) < n {
		v.bufs[depth] = make([]byte, n)
	}
	return v.bufs[depth][:n]
}

// page reads page id with its overflow pages into the buffer of depth and
// checks its header (its type must be one of flags), and that no page it spans
// was visited before.
func (v *verifier) page(id uint64, depth int, flags ...uint16) ([]byte, error) {
	if id < 2 || id >= v.hwm {
		return nil, fmt.Errorf("a reference to page %d, outside the file's %d pages", id, v.hwm)
	}
	buf := v.buffer(depth, v.ps)
	if _, err := v.r.ReadAt(buf, int64(id)*v.ps); err != nil {
		return nil, fmt.Errorf("read page %d: %w", id, err)
	}
	if got := ne.Uint64(buf); got != id {
		return nil, fmt.Errorf("page %d calls itself page %d", id, got)
	}
	if got := ne.Uint16(buf[8:]); !slices.Contains(flags, got) {
		return nil, fmt.Errorf("page %d has type %#x where type %#x was expected", id, got, flags)
	}
	overflow := uint64(ne.Uint32(buf[12:]))
	if overflow >= v.hwm-id {
		return nil, fmt.Errorf("page %d runs %d pages past the file's %d pages", id, overflow, v.hwm)
	}
	for i := id; i <= id+overflow; i++ {
		if v.isSeen(i) {
			return nil, fmt.Errorf("page %d is referenced twice", i)
		}
		v.mark(i)
	}
	if overflow > 0 {
		head := buf[:v.ps]
		buf = v.buffer(depth, int64(overflow+1)*v.ps)
		copy(buf, head) // the same buffer, or a larger one
		if _, err := v.r.ReadAt(buf[v.ps:], int64(id+1)*v.ps); err != nil {
			return nil, fmt.Errorf("read page %d: %w", id, err)
		}
	}
	return buf, nil
}

// freelist checks the freelist page and returns the free page ids.
func (v *verifier) freelist(id uint64) (map[uint64]bool, error) {
	p, err := v.page(id, 0, freelistPageFlag)
	if err != nil {
		return nil, fmt.Errorf("freelist: %w", err)
	}
	idx, count := uint64(0), uint64(ne.Uint16(p[10:]))
	if count == 0xFFFF {
		idx, count = 1, ne.Uint64(p[pageHeaderSize:])
	}
	if count > uint64(len(p)-pageHeaderSize)/8-idx {
		return nil, fmt.Errorf("freelist page %d counts %d free pages, more than it can hold", id, count)
	}
	free := make(map[uint64]bool, count)
	for i := idx; i < idx+count; i++ {
		f := ne.Uint64(p[pageHeaderSize+8*i:])
		if f < 2 || f >= v.hwm {
			return nil, fmt.Errorf("freelist page %d lists page %d, outside the file's %d pages", id, f, v.hwm)
		}
		if free[f] {
			return nil, fmt.Errorf("freelist page %d lists page %d twice", id, f)
		}
		free[f] = true
	}
	return free, nil
}

// maxDepth bounds the nesting of buckets and of branch pages; focussync's own
// layout is three buckets deep and a B+tree of a few levels.
const maxDepth = 64

// tree checks the page tree rooted at page id: every key at or above lo and
// below hi (nil: unbounded).
func (v *verifier) tree(id uint64, lo, hi []byte, depth int, in bucketAt) error {
	if depth > maxDepth {
		return fmt.Errorf("pages nest deeper than %d levels at page %d", maxDepth, id)
	}
	p, err := v.page(id, depth, branchPageFlag, leafPageFlag)
	if err != nil {
		return err
	}
	switch ne.Uint16(p[8:]) {
	case branchPageFlag:
		keys, children, err := branchElems(p)
		if err != nil {
			return fmt.Errorf("branch page %d: %w", id, err)
		}
		if err := checkOrder(keys, lo, hi); err != nil {
			return fmt.Errorf("branch page %d: %w", id, err)
		}
		for i, c := range children {
			next := hi
			if i+1 < len(keys) {
				next = keys[i+1]
			}
			if err := v.tree(c, keys[i], next, depth+1, in); err != nil {
				return err
			}
		}
		return nil
	default:
		if err := v.leaf(p, lo, hi, depth, in); err != nil {
			return fmt.Errorf("leaf page %d: %w", id, err)
		}
		return nil
	}
}

// branchElems returns a branch page's keys and child pages.
func branchElems(p []byte) ([][]byte, []uint64, error) {
	n := int(ne.Uint16(p[10:]))
	if n == 0 {
		return nil, nil, errors.New("no elements")
	}
	if pageHeaderSize+n*elemSize > len(p) {
		return nil, nil, fmt.Errorf("%d elements do not fit in the page", n)
	}
	keys := make([][]byte, n)
	children := make([]uint64, n)
	for i := range n {
		e := pageHeaderSize + i*elemSize
		pos, ksize := uint64(ne.Uint32(p[e:])), uint64(ne.Uint32(p[e+4:]))
		if uint64(e)+pos+ksize > uint64(len(p)) {
			return nil, nil, fmt.Errorf("element %d's key runs past the page", i)
		}
		start := uint64(e) + pos
		keys[i] = p[start : start+ksize]
		children[i] = ne.Uint64(p[e+8:])
	}
	return keys, children, nil
}

// leaf checks a leaf page (p starts at its header) of the bucket in, the
// buckets it holds and, against focussync's layout, its values.
func (v *verifier) leaf(p []byte, lo, hi []byte, depth int, in bucketAt) error {
	n := int(ne.Uint16(p[10:]))
	if pageHeaderSize+n*elemSize > len(p) {
		return fmt.Errorf("%d elements do not fit in the page", n)
	}
	var prev []byte
	for i := range n {
		e := pageHeaderSize + i*elemSize
		flags := ne.Uint32(p[e:])
		pos, ksize, vsize := uint64(ne.Uint32(p[e+4:])), uint64(ne.Uint32(p[e+8:])), uint64(ne.Uint32(p[e+12:]))
		start := uint64(e) + pos
		if start+ksize+vsize > uint64(len(p)) {
			return fmt.Errorf("element %d runs past the page", i)
		}
		key := p[start : start+ksize]
		val := p[start+ksize : start+ksize+vsize]
		switch flags {
		case 0:
			if v.layout == nil {
				v.layout = in.checkValue(key, val)
			}
		case bucketLeafFlag:
			if err := v.bucket(val, depth+1, v.child(in, key)); err != nil {
				return fmt.Errorf("bucket %q: %w", key, err)
			}
		default:
			return fmt.Errorf("element %d has unknown flags %#x", i, flags)
		}
		if err := keyInOrder(i, prev, key, lo, hi); err != nil {
			return err
		}
		prev = key
	}
	return nil
}

// bucket checks a bucket's header and its pages: a page tree, or an inline leaf page.
func (v *verifier) bucket(val []byte, depth int, in bucketAt) error {
	if depth > maxDepth {
		return fmt.Errorf("buckets nest deeper than %d levels", maxDepth)
	}
	if len(val) < bucketHeaderSize {
		return errors.New("bucket header cut short")
	}
	root := ne.Uint64(val)
	if root != 0 {
		return v.tree(root, nil, nil, depth, in)
	}
	inline := val[bucketHeaderSize:]
	if len(inline) < pageHeaderSize {
		return errors.New("inline page cut short")
	}
	if f := ne.Uint16(inline[8:]); f != leafPageFlag {
		return fmt.Errorf("inline page has type %#x, not a leaf", f)
	}
	return v.leaf(inline, nil, nil, depth, in)
}

// checkOrder checks that keys ascend strictly, the first at or above lo and all below hi.
func checkOrder(keys [][]byte, lo, hi []byte) error {
	for i, k := range keys {
		var prev []byte
		if i > 0 {
			prev = keys[i-1]
		}
		if err := keyInOrder(i, prev, k, lo, hi); err != nil {
			return err
		}
	}
	return nil
}

// keyInOrder checks the key k at index i of a page, after prev: see checkOrder.
func keyInOrder(i int, prev, k, lo, hi []byte) error {
	if i == 0 && lo != nil && bytes.Compare(k, lo) < 0 {
		return fmt.Errorf("key %q sorts before its parent's key %q", k, lo)
	}
	if i > 0 && bytes.Compare(prev, k) >= 0 {
		return fmt.Errorf("keys %q and %q are out of order", prev, k)
	}
	if hi != nil && bytes.Compare(k, hi) >= 0 {
		return fmt.Errorf("key %q sorts after the next key %q of its parent", k, hi)
	}
	return nil
}

// bucketAt is the bucket a walk is in, as focussync's layout (schema.go) sees it, so
// that the walk that checks the pages also checks every value: the file is read
// once at open, not once for its pages and again through bbolt for its values.
type bucketAt struct {
	kind   bucketKind
	folder []byte // the folder bucket's name, in and below a folder bucket
}

type bucketKind uint8

const (
	inOther      bucketKind = iota // a bucket whose values are not checked (the store-wide one)
	inRoot                         // the root: the store-wide bucket and one bucket per folder
	inFolder                       // a folder's bucket
	inFiles                        // a folder's records
	inIntents                      // a folder's open intents
	inFolderMeta                   // a folder's meta
)

// child returns the bucket named name within in, and notes a bucket at the
// root that is neither the store-wide one nor a folder's.
func (v *verifier) child(in bucketAt, name []byte) bucketAt {
	switch in.kind {
	case inRoot:
		if bytes.Equal(name, bucketMeta) {
			return bucketAt{kind: inOther}
		}
		if _, err := parseBucketName(name); err != nil {
			if v.layout == nil {
				v.layout = err
			}
			return bucketAt{kind: inOther}
		}
		return bucketAt{kind: inFolder, folder: name}
	case inFolder:
		switch {
		case bytes.Equal(name, bucketFiles):
			return bucketAt{kind: inFiles, folder: in.folder}
		case bytes.Equal(name, bucketIntents):
			return bucketAt{kind: inIntents, folder: in.folder}
		case bytes.Equal(name, keyMeta):
			return bucketAt{kind: inFolderMeta, folder: in.folder}
		}
	}
	return bucketAt{kind: inOther}
}

// checkValue decodes the value val stored under key in the bucket in, as Load
// and Stats will: a damaged record is found at open, not in the middle of a pass.
func (in bucketAt) checkValue(key, val []byte) error {
	switch in.kind {
	case inRoot:
		return fmt.Errorf("a value %q outside any bucket", key)
	case inFiles:
		// A sealed value whose checksum holds was written whole by this code;
		// only older values need a full decode.
		var err error
		if len(val) > 0 && val[0] == sealedFormat {
			_, _, err = peekRecord(key, val)
		} else {
			_, err = decodeRecord(key, val)
		}
		if err != nil {
			return fmt.Errorf("bucket %q: file %q: %w", in.folder, key, err)
		}
	case inIntents:
		if len(key) != 8 {
			return fmt.Errorf("bucket %q: intent key %x: not 8 bytes", in.folder, key)
		}
		if _, err := decodeIntent(binary.BigEndian.Uint64(key), val); err != nil {
			return fmt.Errorf("bucket %q: intent %x: %w", in.folder, key, err)
		}
	case inFolderMeta:
		if bytes.Equal(key, keyMeta) {
			if _, err := decodeMeta(val); err != nil {
				return fmt.Errorf("bucket %q: meta: %w", in.folder, err)
			}
		}
	}
	return nil
}
