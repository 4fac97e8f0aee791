package config

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"

	"github.com/focussync/focussync/internal/safefs"
)

// TokenEnv is the environment variable holding the API token; it wins over
// [api] token_file.
const TokenEnv = "FOCUS_API_TOKEN"

// Token returns the API token: $FOCUS_API_TOKEN when set, else the systemd
// credential "token" when the process runs in a unit that loads it (see
// CredentialName), else the trimmed contents of [api] token_file. A token file that is missing, unreadable or
// empty is an error naming the file; one readable by group or others (on unix)
// is a warning. Without either, the error says how to provide a token.
func (c *Config) Token() (token string, warnings []string, err error) {
	if t := strings.TrimSpace(os.Getenv(TokenEnv)); t != "" {
		return t, nil, nil
	}
	name := c.API.TokenFile
	if cred := credentialFile(); cred != "" {
		name = cred
	} else if name == "" {
		return "", nil, errors.New("no API token: set FOCUS_API_TOKEN or [api] token_file")
	}
	// Opened without blocking: a FIFO or a device put there would otherwise hang
	// check, sync and run in the kernel's open, where no signal ends them.
	f, err := safefs.OpenPath(name)
	if errors.Is(err, safefs.ErrNotRegular) {
		return "", nil, fmt.Errorf("read token file (api.token_file) %s: %w: the token must be in a regular file", name, errors.Unwrap(err))
	}
	if err != nil {
		return "", nil, fmt.Errorf("read token file (api.token_file): %w%s", err, credentialHint(name, err))
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", nil, fmt.Errorf("read token file (api.token_file): %w", err)
	}
	b := make([]byte, 0, 256)
	buf := make([]byte, 4096)
	for len(b) <= 64<<10 {
		n, rerr := f.Read(buf)
		b = append(b, buf[:n]...)
		if rerr != nil {
			break
		}
	}
	if len(b) > 64<<10 {
		return "", nil, fmt.Errorf("read token file (api.token_file) %s: larger than 64KiB, not a token", name)
	}
	token = strings.TrimSpace(string(b))
	if token == "" {
		return "", nil, fmt.Errorf("read token file (api.token_file) %s: empty", name)
	}
	if runtime.GOOS != "windows" && st.Mode().Perm()&0o077 != 0 {
		warnings = append(warnings, fmt.Sprintf("token file %s is readable by others (mode %04o): run chmod 600 %s", name, st.Mode().Perm(), name))
	}
	return token, warnings, nil
}
