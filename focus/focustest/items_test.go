package focustest

import (
	"reflect"
	"slices"
	"testing"
	"time"
	"unsafe"
)

// A stored item holds no pointers, so that the garbage collector skips the map
// of a million attachments, and fits in the 128 bytes a Go map keeps in its own
// table, so that each item is not an object of its own.
func TestItem_CompactAndWithoutPointers(t *testing.T) {
	if n := unsafe.Sizeof(item{}); n > 128 {
		t.Errorf("item is %d bytes, want at most 128", n)
	}
	var check func(reflect.Type, string)
	check = func(typ reflect.Type, path string) {
		switch typ.Kind() {
		case reflect.Struct:
			for i := range typ.NumField() {
				f := typ.Field(i)
				check(f.Type, path+"."+f.Name)
			}
		case reflect.Array:
			check(typ.Elem(), path+"[]")
		case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
			reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
		default:
			t.Errorf("%s is a %s, which holds a pointer", path, typ.Kind())
		}
	}
	check(reflect.TypeFor[item](), "item")
}

func TestUnixTime_IsTheStamp(t *testing.T) {
	for _, now := range []time.Time{
		time.Now(),
		time.Date(2024, 3, 1, 12, 30, 45, 999_999_999, time.FixedZone("X", 5*3600)),
		{},
	} {
		e := NewHandler(Options{Now: func() time.Time { return now }})
		want := now.UTC().Truncate(time.Second)
		if got := unixTime(e.stamp()); got != want || got.Location() != want.Location() {
			t.Errorf("unixTime(stamp) at %v = %#v, want %#v", now, got, want)
		}
	}
}

func TestPackParts_RoundTrip(t *testing.T) {
	for _, c := range []struct{ names, types []string }{
		{nil, nil},
		{[]string{"file"}, []string{""}},
		{[]string{"", "names[0]", string(make([]byte, 300))}, []string{"text/plain; charset=utf-8", "", "x"}},
	} {
		names, types := unpackParts(packParts(c.names, c.types))
		if !slices.Equal(names, c.names) || !slices.Equal(types, c.types) || (names == nil) != (c.names == nil) {
			t.Errorf("round trip of %q, %q = %q, %q", c.names, c.types, names, types)
		}
	}
}
