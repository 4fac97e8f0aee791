package benchenv

import (
	"os"
	"syscall"
	"testing"
)

func TestInotifyWatches_CountsWatchedDirectories(t *testing.T) {
	fd, err := syscall.InotifyInit1(syscall.IN_CLOEXEC)
	if err != nil {
		t.Skipf("no inotify: %v", err)
	}
	defer syscall.Close(fd)
	before, err := InotifyWatches(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := syscall.InotifyAddWatch(fd, t.TempDir(), syscall.IN_CREATE); err != nil {
			t.Fatal(err)
		}
	}
	after, err := InotifyWatches(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if after-before != 3 {
		t.Errorf("watches went from %d to %d, want 3 more", before, after)
	}
}
