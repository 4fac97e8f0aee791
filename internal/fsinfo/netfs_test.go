package fsinfo

import (
	"errors"
	"path/filepath"
	"testing"
)

func TestOnNetworkFS(t *testing.T) {
	dir := t.TempDir()
	// A path that does not exist yet is judged by its nearest existing parent.
	network, name := OnNetworkFS(filepath.Join(dir, "not", "yet", "state.db"))
	wantName, wantNet, err := FSType(dir)
	if err != nil {
		if errors.Is(err, errors.ErrUnsupported) {
			if network || name != "" {
				t.Errorf("OnNetworkFS = %v, %q; want false, \"\" where FSType is unsupported", network, name)
			}
			return
		}
		t.Fatalf("FSType(%s): %v", dir, err)
	}
	if network != wantNet || name != wantName {
		t.Errorf("OnNetworkFS = %v, %q; want %v, %q", network, name, wantNet, wantName)
	}
}
