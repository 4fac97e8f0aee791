//go:build windows

package control

import (
	"context"
	"fmt"
	"net"
	"os"

	"golang.org/x/sys/windows"
)

// Listen opens the daemon's control endpoint. Windows has no socket modes or peer
// credentials to rely on: it is a loopback port with a key in a file at endpoint
// that only the daemon's user, SYSTEM and Administrators can read.
func Listen(endpoint string) (*Listener, error) { return listenKeyed(endpoint) }

func dial(ctx context.Context, endpoint string) (net.Conn, []byte, error) {
	return dialKeyed(ctx, endpoint)
}

// privateSDDL grants full access to SYSTEM, Administrators and the file's owner,
// and nothing inherited.
const privateSDDL = "D:P(A;;FA;;;SY)(A;;FA;;;BA)(A;;FA;;;OW)"

// restrictFile replaces f's access list with privateSDDL.
func restrictFile(f *os.File) error {
	sd, err := windows.SecurityDescriptorFromString(privateSDDL)
	if err != nil {
		return fmt.Errorf("security descriptor: %w", err)
	}
	dacl, _, err := sd.DACL()
	if err != nil {
		return fmt.Errorf("security descriptor: %w", err)
	}
	err = windows.SetSecurityInfo(windows.Handle(f.Fd()), windows.SE_FILE_OBJECT,
		windows.DACL_SECURITY_INFORMATION|windows.PROTECTED_DACL_SECURITY_INFORMATION, nil, nil, dacl, nil)
	if err != nil {
		return fmt.Errorf("restrict %s: %w", f.Name(), err)
	}
	return nil
}
