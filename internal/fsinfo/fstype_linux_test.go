package fsinfo

import (
	"os"
	"path/filepath"
	"testing"
)

func TestFSType(t *testing.T) {
	t.Run("proc", func(t *testing.T) {
		if _, err := os.Stat("/proc/self"); err != nil {
			t.Skip("no /proc here")
		}
		name, network, err := FSType("/proc")
		if err != nil || name != "proc" || network {
			t.Errorf("FSType(/proc) = %q, %v, %v; want \"proc\", false, nil", name, network, err)
		}
	})
	t.Run("temp dir", func(t *testing.T) {
		name, _, err := FSType(t.TempDir())
		if err != nil || name == "" {
			t.Errorf("FSType(temp dir) = %q, %v; want a name", name, err)
		}
		t.Logf("temp dir is on %s", name)
	})
	t.Run("missing path", func(t *testing.T) {
		if _, _, err := FSType(filepath.Join(t.TempDir(), "missing")); err == nil {
			t.Error("FSType of a missing path succeeded")
		}
	})
	t.Run("table", func(t *testing.T) {
		for magic, want := range map[uint32]string{0x6969: "nfs", 0xFF534D42: "cifs", 0xFE534D42: "smb2",
			0x517B: "smb", 0x65735546: "fuse", 0x01021997: "9p"} {
			if fs := fsMagic[magic]; fs.name != want || !fs.network {
				t.Errorf("magic %#x = %+v, want network %q", magic, fs, want)
			}
		}
	})
}
