package state

import (
	"errors"
	"hash/crc32"
)

// Values written since schema 2 are sealed: their format byte is sealedFormat and
// they end with a CRC-32C of the bucket key and of every byte before it. bbolt
// keeps no checksum of its pages, so without one a damaged byte inside a value
// would decode into a wrong hash, size or attachment id and send a request that
// nobody asked for. Values of format 1, unsealed, stay readable.
const sealedFormat = 2

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// errChecksum is the error for a value whose checksum does not match.
var errChecksum = errors.New("checksum mismatch: the value was damaged")

// seal turns an encoded value (format byte valueFormat first) into its sealed form
// for key, in place.
func seal(key, v []byte) []byte {
	v[0] = sealedFormat
	c := crc32.Update(crc32.Checksum(key, castagnoli), castagnoli, v)
	return append(v, byte(c>>24), byte(c>>16), byte(c>>8), byte(c))
}

// unseal checks a sealed value and returns it without its checksum; a value of
// format 1 is returned as it is.
func unseal(key, v []byte) ([]byte, error) {
	if len(v) == 0 || v[0] != sealedFormat {
		return v, nil
	}
	if len(v) < 5 {
		return nil, errShortValue
	}
	n := len(v) - 4
	c := crc32.Update(crc32.Checksum(key, castagnoli), castagnoli, v[:n])
	if byte(c>>24) != v[n] || byte(c>>16) != v[n+1] || byte(c>>8) != v[n+2] || byte(c) != v[n+3] {
		return nil, errChecksum
	}
	return v[:n], nil
}
