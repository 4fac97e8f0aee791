package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestConfig_Token_SystemdCredential(t *testing.T) {
	t.Setenv(TokenEnv, "")
	c := tokenConfig(t, []byte("toggl_sk_file\n"), 0o600)
	creds := t.TempDir()
	if err := os.WriteFile(filepath.Join(creds, CredentialName), []byte("toggl_sk_credential\n"), 0o400); err != nil {
		t.Fatal(err)
	}

	t.Run("inside the unit the credential stands in for token_file", func(t *testing.T) {
		t.Setenv("CREDENTIALS_DIRECTORY", creds)
		tok, _, err := c.Token()
		if err != nil || tok != "toggl_sk_credential" {
			t.Errorf("Token() = %q, %v; want the credential's token", tok, err)
		}
		if src := c.TokenSource(); !strings.Contains(src, "systemd credential token") {
			t.Errorf("TokenSource() = %q", src)
		}
	})
	t.Run("without a token credential the file is read", func(t *testing.T) {
		t.Setenv("CREDENTIALS_DIRECTORY", t.TempDir())
		tok, _, err := c.Token()
		if err != nil || tok != "toggl_sk_file" {
			t.Errorf("Token() = %q, %v; want the file's token", tok, err)
		}
		if src := c.TokenSource(); src != c.API.TokenFile {
			t.Errorf("TokenSource() = %q, want %q", src, c.API.TokenFile)
		}
	})
	t.Run("the environment still wins", func(t *testing.T) {
		t.Setenv("CREDENTIALS_DIRECTORY", creds)
		t.Setenv(TokenEnv, "toggl_sk_env")
		if tok, _, _ := c.Token(); tok != "toggl_sk_env" {
			t.Errorf("Token() = %q", tok)
		}
	})
	t.Run("a credential path outside the unit is explained", func(t *testing.T) {
		t.Setenv("CREDENTIALS_DIRECTORY", "")
		c := &Config{API: API{TokenFile: "/run/credentials/focussync-test-absent.service/token"}}
		_, _, err := c.Token()
		if err == nil || !strings.Contains(err.Error(), "exists only inside the running service") {
			t.Errorf("Token() error = %v, want it to explain the credential path", err)
		}
	})
}
