package state

import (
	"math"
	"reflect"
	"testing"
	"time"
	"unsafe"
)

func TestCodec_Extremes(t *testing.T) {
	loc := time.FixedZone("", 5*3600+30*60)
	r := FileRecord{
		Path: "p", Size: math.MaxInt64, Inode: math.MaxUint64, AttachmentID: math.MinInt64,
		DisplayOrder: -1, ModTime: time.Date(2001, 2, 3, 4, 5, 6, 7, loc),
		Hash: "\x00\xff", RemoteName: "\x80",
		Refused: &Refusal{Hash: "\xfe", LastError: "\x00", Attempts: math.MaxInt32},
	}
	v, err := encodeRecord(r)
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeRecord([]byte(r.Path), v)
	if err != nil {
		t.Fatal(err)
	}
	if !got.ModTime.Equal(r.ModTime) {
		t.Errorf("ModTime: got %v, want %v", got.ModTime, r.ModTime)
	}
	if _, off := got.ModTime.Zone(); off != 5*3600+30*60 {
		t.Errorf("ModTime zone offset = %d, want %d", off, 5*3600+30*60)
	}
	got.ModTime, r.ModTime = time.Time{}, time.Time{}
	if !reflect.DeepEqual(got, r) {
		t.Errorf("got  %+v\nwant %+v", got, r)
	}
}

// A value written when records carried the time of their last change (in the
// slot that is now always empty) reads as before.
func TestCodec_ReadsTheTimeSlotOfOlderValues(t *testing.T) {
	e := encoder{b: []byte{valueFormat}}
	e.varint(7)             // AttachmentID
	e.str("")               // refused hash
	e.varint(3)             // Size
	_ = e.time(time.Time{}) // ModTime
	e.uvarint(9)            // Inode
	e.str("ab")             // Hash
	e.str("r.txt")          // RemoteName
	e.varint(1024)          // DisplayOrder
	e.str("")               // last error
	e.varint(0)             // attempts
	if err := e.time(time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	got, err := decodeRecord([]byte("r.txt"), seal([]byte("r.txt"), e.b))
	want := FileRecord{Path: "r.txt", Size: 3, Inode: 9, Hash: "ab", AttachmentID: 7, RemoteName: "r.txt", DisplayOrder: 1024}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("decodeRecord = %+v, %v; want %+v", got, err, want)
	}
}

// Every truncation of a valid value, and every value with extra bytes, is an
// error and never a panic.
func TestCodec_Truncated(t *testing.T) {
	rec, _ := encodeRecord(sampleRecord("x/y", 3))
	meta, _ := encodeMeta(Meta{Device: 3, Listed: true, LastPass: at(1), LastError: "e"})
	in, _ := encodeIntent(&Intent{Op: IntentCreate, Started: at(2), Files: []IntentFile{{Path: "a", Name: "b", ModTime: at(3)}}})
	decoders := map[string]struct {
		v   []byte
		dec func([]byte) error
	}{
		"record": {rec, func(b []byte) error { _, err := decodeRecord([]byte("x/y"), b); return err }},
		"meta":   {meta, func(b []byte) error { _, err := decodeMeta(b); return err }},
		"intent": {in, func(b []byte) error { _, err := decodeIntent(1, b); return err }},
	}
	for name, d := range decoders {
		if err := d.dec(d.v); err != nil {
			t.Fatalf("%s: decoding the full value: %v", name, err)
		}
		for n := 0; n < len(d.v); n++ {
			if err := d.dec(d.v[:n]); err == nil {
				t.Errorf("%s: decoding the first %d of %d bytes succeeded", name, n, len(d.v))
			}
		}
		if err := d.dec(append(d.v[:len(d.v):len(d.v)], 0)); err == nil {
			t.Errorf("%s: a trailing byte was accepted", name)
		}
		bad := append([]byte{9}, d.v[1:]...)
		if err := d.dec(bad); err == nil {
			t.Errorf("%s: an unknown format byte was accepted", name)
		}
		for i := range d.v {
			flipped := append([]byte(nil), d.v...)
			flipped[i] ^= 0x10
			if err := d.dec(flipped); err == nil {
				t.Errorf("%s: a value with byte %d flipped was accepted", name, i)
			}
		}
		// A value of schema 1 has no checksum and stays readable.
		old := append([]byte{valueFormat}, d.v[1:len(d.v)-4]...)
		if err := d.dec(old); err != nil {
			t.Errorf("%s: an unsealed value of format 1: %v", name, err)
		}
	}
	if _, err := decodeRecord([]byte("x/z"), rec); err == nil {
		t.Error("a record under another key was accepted")
	}
}

func TestCodec_Varint(t *testing.T) {
	vals := []int64{0, 1, -1, 63, -64, 64, 127, 128, math.MaxInt32, math.MinInt32, math.MaxInt64, math.MinInt64}
	e := encoder{b: []byte{valueFormat}}
	for _, v := range vals {
		e.varint(v)
		e.uvarint(uint64(v))
	}
	ds := newDecoder(string(e.b))
	for _, want := range vals {
		if got := ds.varint(); got != want {
			t.Errorf("varint = %d, want %d", got, want)
		}
		if got := ds.uvarint(); got != uint64(want) {
			t.Errorf("uvarint = %d, want %d", got, uint64(want))
		}
	}
	if err := ds.done(); err != nil {
		t.Error(err)
	}
	// An 11-byte varint overflows.
	over := newDecoder("\x01\xff\xff\xff\xff\xff\xff\xff\xff\xff\x7f")
	if over.uvarint(); over.err == nil {
		t.Error("overlong uvarint accepted")
	}
	over = newDecoder("\x01\xff\xff\xff\xff\xff\xff\xff\xff\xff\x02")
	if over.uvarint(); over.err == nil {
		t.Error("uvarint over 64 bits accepted")
	}
}

// A Go map keeps values of up to 128 bytes in its own table and larger ones in
// an object each: a record over that size costs a folder of a million files a
// million objects for the garbage collector to visit in every cycle.
func TestFileRecord_FitsInAMapTable(t *testing.T) {
	if n := unsafe.Sizeof(FileRecord{}); n > 128 {
		t.Errorf("FileRecord is %d bytes, want at most 128 (rare fields go behind a pointer, as Refusal does)", n)
	}
}
