package state

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Values are stored in a small binary format: a format byte, then the fields in a
// fixed order as varints and length-prefixed byte strings. Strings are copied byte
// for byte, so paths and names that are not UTF-8 round-trip exactly (JSON would
// replace such bytes). The path of a record and the id of an intent live in the
// bucket key, not in the value.
//
// A change to any of these layouts needs a new schema version and a migration.
const valueFormat = 1

var errShortValue = errors.New("value too short")

type encoder struct{ b []byte }

func (e *encoder) uvarint(v uint64) { e.b = binary.AppendUvarint(e.b, v) }
func (e *encoder) varint(v int64)   { e.b = binary.AppendVarint(e.b, v) }

func (e *encoder) str(s string) {
	e.uvarint(uint64(len(s)))
	e.b = append(e.b, s...)
}

func (e *encoder) bool(v bool) {
	if v {
		e.b = append(e.b, 1)
	} else {
		e.b = append(e.b, 0)
	}
}

// time stores the zero time as an empty string and any other time in the form of
// time.Time.MarshalBinary (instant and zone offset; the monotonic reading is dropped).
func (e *encoder) time(t time.Time) error {
	if t.IsZero() {
		e.uvarint(0)
		return nil
	}
	tb, err := t.MarshalBinary()
	if err != nil {
		return err
	}
	e.uvarint(uint64(len(tb)))
	e.b = append(e.b, tb...)
	return nil
}

// decoder reads what encoder wrote. It reads from a string and returns fields as
// substrings of it: a caller that copies a whole bbolt value into one string pays
// one allocation for all its fields. The first error sticks; later reads return
// zero values, so a caller checks err once, at the end.
type decoder struct {
	b   string
	err error
}

func newDecoder(b string) decoder {
	d := decoder{b: b}
	if len(b) == 0 {
		d.err = errShortValue
	} else if b[0] != valueFormat && b[0] != sealedFormat {
		d.err = fmt.Errorf("unknown value format %d", b[0])
	} else {
		d.b = b[1:]
	}
	return d
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	var v uint64
	for i := 0; i < len(d.b) && i < binary.MaxVarintLen64; i++ {
		c := d.b[i]
		if c < 0x80 {
			if i == binary.MaxVarintLen64-1 && c > 1 {
				break // overflows 64 bits
			}
			d.b = d.b[i+1:]
			return v | uint64(c)<<(7*i)
		}
		v |= uint64(c&0x7f) << (7 * i)
	}
	d.err = errShortValue
	return 0
}

func (d *decoder) varint() int64 {
	u := d.uvarint()
	v := int64(u >> 1)
	if u&1 != 0 {
		v = ^v
	}
	return v
}

// str returns the next length-prefixed field.
func (d *decoder) str() string {
	n := d.uvarint()
	if d.err != nil {
		return d.b[:0]
	}
	if n > uint64(len(d.b)) {
		d.err = errShortValue
		return d.b[:0]
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) bool() bool {
	if d.err != nil {
		return false
	}
	if len(d.b) == 0 {
		d.err = errShortValue
		return false
	}
	v := d.b[0]
	d.b = d.b[1:]
	switch v {
	case 0:
		return false
	case 1:
		return true
	}
	d.err = fmt.Errorf("bad bool byte %d", v)
	return false
}

func (d *decoder) time() time.Time {
	tb := d.str()
	if d.err != nil || len(tb) == 0 {
		return time.Time{}
	}
	var t time.Time
	if err := t.UnmarshalBinary([]byte(tb)); err != nil {
		d.err = err
	}
	return t
}

// done reports the sticky error, or an error when bytes are left over.
func (d *decoder) done() error {
	if d.err == nil && len(d.b) != 0 {
		d.err = fmt.Errorf("%d unexpected trailing bytes", len(d.b))
	}
	return d.err
}

// The record layout puts AttachmentID and RefusedHash first so that Stats can
// read them without decoding the rest.

func encodeRecord(r FileRecord) ([]byte, error) {
	var refused Refusal
	if r.Refused != nil {
		refused = *r.Refused
	}
	e := encoder{b: make([]byte, 0, 96+len(r.Hash)+len(r.RemoteName)+len(refused.LastError)+len(refused.Hash))}
	e.b = append(e.b, valueFormat)
	e.varint(r.AttachmentID)
	e.str(refused.Hash)
	e.varint(r.Size)
	if err := e.time(r.ModTime); err != nil {
		return nil, fmt.Errorf("field ModTime: %w", err)
	}
	e.uvarint(r.Inode)
	e.str(r.Hash)
	e.str(r.RemoteName)
	e.varint(r.DisplayOrder)
	e.str(refused.LastError)
	e.varint(int64(refused.Attempts))
	// The slot of a time the record once carried and nothing read: kept, empty,
	// so that values stay readable by every version.
	e.uvarint(0)
	return seal([]byte(r.Path), e.b), nil
}

// decodeRecord decodes the record stored under key path with value v, copying
// both out of the transaction in a single allocation.
func decodeRecord(path, v []byte) (FileRecord, error) {
	v, err := unseal(path, v)
	if err != nil {
		return FileRecord{Path: string(path)}, err
	}
	var sb strings.Builder // one allocation for key and value, with no copy in String
	sb.Grow(len(path) + len(v))
	sb.Write(path)
	sb.Write(v)
	kv := sb.String()
	d := newDecoder(kv[len(path):])
	r := FileRecord{Path: kv[:len(path)]}
	r.AttachmentID = d.varint()
	var refused Refusal
	refused.Hash = d.str()
	r.Size = d.varint()
	r.ModTime = d.time()
	r.Inode = d.uvarint()
	r.Hash = d.str()
	r.RemoteName = d.str()
	r.DisplayOrder = d.varint()
	refused.LastError = d.str()
	refused.Attempts = int(d.varint())
	d.time() // the slot of a time the record once carried, not read
	if refused != (Refusal{}) {
		r.Refused = &refused
	}
	return r, d.done()
}

// peekRecord reads only whether a record is managed and whether it holds a
// refusal, without copying the value.
func peekRecord(path, v []byte) (managed, refused bool, err error) {
	if v, err = unseal(path, v); err != nil {
		return false, false, err
	}
	if len(v) == 0 || (v[0] != valueFormat && v[0] != sealedFormat) {
		return false, false, errors.New("bad record value")
	}
	id, n := binary.Varint(v[1:])
	if n <= 0 {
		return false, false, errShortValue
	}
	hashLen, m := binary.Uvarint(v[1+n:])
	if m <= 0 || hashLen > uint64(len(v)-1-n-m) {
		return false, false, errShortValue
	}
	return id != 0, hashLen != 0, nil
}

func encodeMeta(m Meta) ([]byte, error) {
	e := encoder{b: make([]byte, 0, 64+len(m.LastError))}
	e.b = append(e.b, valueFormat)
	e.uvarint(m.Device)
	e.bool(m.Listed)
	if err := e.time(m.LastPass); err != nil {
		return nil, fmt.Errorf("field LastPass: %w", err)
	}
	if err := e.time(m.LastVerify); err != nil {
		return nil, fmt.Errorf("field LastVerify: %w", err)
	}
	e.str(m.LastError)
	return seal(keyMeta, e.b), nil
}

func decodeMeta(v []byte) (Meta, error) {
	v, err := unseal(keyMeta, v)
	if err != nil {
		return Meta{}, err
	}
	d := newDecoder(string(v))
	var m Meta
	m.Device = d.uvarint()
	m.Listed = d.bool()
	m.LastPass = d.time()
	m.LastVerify = d.time()
	m.LastError = d.str()
	return m, d.done()
}

func encodeIntent(in *Intent) ([]byte, error) {
	e := encoder{b: make([]byte, 0, 64+len(in.Files)*128)}
	e.b = append(e.b, valueFormat)
	e.str(string(in.Op))
	if err := e.time(in.Started); err != nil {
		return nil, fmt.Errorf("field Started: %w", err)
	}
	e.varint(in.AttachmentID)
	e.str(in.Name)
	e.varint(in.DisplayOrder)
	e.uvarint(uint64(len(in.Files)))
	for i, f := range in.Files {
		e.str(f.Path)
		e.str(f.Name)
		e.varint(f.Size)
		e.str(f.Hash)
		if err := e.time(f.ModTime); err != nil {
			return nil, fmt.Errorf("field Files[%d].ModTime: %w", i, err)
		}
		e.uvarint(f.Inode)
		e.varint(f.DisplayOrder)
		e.varint(f.Replaces)
	}
	// The key (the id) is assigned in the transaction that stores the intent.
	return seal(nil, e.b), nil
}

func decodeIntent(id uint64, v []byte) (Intent, error) {
	v, err := unseal(nil, v)
	if err != nil {
		return Intent{ID: id}, err
	}
	d := newDecoder(string(v))
	in := Intent{ID: id}
	in.Op = IntentOp(d.str())
	in.Started = d.time()
	in.AttachmentID = d.varint()
	in.Name = d.str()
	in.DisplayOrder = d.varint()
	n := d.uvarint()
	if n > uint64(len(d.b)) { // every file takes at least one byte per field
		return in, errShortValue
	}
	if n > 0 {
		in.Files = make([]IntentFile, n)
	}
	for i := range in.Files {
		f := &in.Files[i]
		f.Path = d.str()
		f.Name = d.str()
		f.Size = d.varint()
		f.Hash = d.str()
		f.ModTime = d.time()
		f.Inode = d.uvarint()
		f.DisplayOrder = d.varint()
		f.Replaces = d.varint()
	}
	return in, d.done()
}
