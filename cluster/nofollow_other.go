//go:build !unix

package cluster

// Where open has no such flags, the regular-file check after opening remains.
const (
	noFollow = 0
	nonBlock = 0
)
