//go:build !race

package focustest

// largeUpload is the size of the streamed upload test.
const largeUpload = 256 << 20
