package config

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// CredentialName is the systemd credential that holds the API token: a unit with
// LoadCredential=token:/etc/focussync/token gives the service a copy of the root-only
// token file it could not read itself. Inside such a unit the credential stands in
// for [api] token_file, so one configuration (token_file = "/etc/focussync/token")
// serves the service and an administrator's `sudo focussync check` alike.
const CredentialName = "token"

// credentialFile returns the path of the token credential when the process runs
// under systemd with one ($CREDENTIALS_DIRECTORY/token exists), else "".
func credentialFile() string {
	dir := os.Getenv("CREDENTIALS_DIRECTORY")
	if dir == "" || !filepath.IsAbs(dir) {
		return ""
	}
	p := filepath.Join(dir, CredentialName)
	if _, err := os.Stat(p); err != nil {
		return ""
	}
	return p
}

// TokenSource says where Token reads the token from: "$FOCUS_API_TOKEN", the
// systemd credential's path, the token file, or "" when there is none.
func (c *Config) TokenSource() string {
	switch {
	case strings.TrimSpace(os.Getenv(TokenEnv)) != "":
		return "$" + TokenEnv
	case credentialFile() != "":
		return credentialFile() + " (systemd credential " + CredentialName + ")"
	default:
		return c.API.TokenFile
	}
}

// credentialHint explains a missing token file that is a systemd credential path,
// which exists only inside the running unit.
func credentialHint(name string, err error) string {
	if !errors.Is(err, fs.ErrNotExist) || !strings.HasPrefix(filepath.ToSlash(name), "/run/credentials/") {
		return ""
	}
	return "; it is a systemd credential, which exists only inside the running service: set token_file to the file the unit loads " +
		"(LoadCredential=token:/etc/focussync/token in the packaged unit), which the service then reads as its credential"
}
