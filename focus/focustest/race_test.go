//go:build race

package focustest

// largeUpload is the size of the streamed upload test. Under the race detector
// it is smaller, still twice the allocation bound the test asserts.
const largeUpload = 64 << 20
