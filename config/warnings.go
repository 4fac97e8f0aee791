package config

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// Durations above these limits are allowed but warned about: they are far longer
// than any use of the key needs, and most likely a typo (a settle of "41610d").
var durationLimits = map[string]time.Duration{
	"settle": time.Hour,           // a new file waits this long after its last change
	"rescan": 7 * 24 * time.Hour,  // changes no event reports wait this long
	"verify": 90 * 24 * time.Hour, // edits made in Focus go unnoticed this long
}

// durationWhy says what a too-long duration means for the user.
var durationWhy = map[string]string{
	"settle": "a new or changed file would wait that long after its last change before it is uploaded",
	"rescan": "changes that no event reports (network shares) would wait that long to be seen",
	"verify": "an attachment renamed or deleted by hand in Focus would go unnoticed that long",
}

// warn records a problem that does not make the config invalid.
func (v *validator) warn(key string, line int, format string, args ...any) {
	v.warnings = append(v.warnings, (&Error{File: v.file, Line: line, Key: key, Msg: fmt.Sprintf(format, args...)}).Error())
}

// warnDuration warns about a duration above its key's limit.
func (v *validator) warnDuration(key string, line int, name string, d time.Duration) {
	limit, ok := durationLimits[name]
	if !ok || d <= limit {
		return
	}
	v.warn(key, line, "%s is very long (more than %s): %s; is it a typo?",
		FormatDuration(d), FormatDuration(limit), durationWhy[name])
}

// FormatDuration prints a duration in days and hours when it is that long
// ("41610d", "36h"), otherwise as time.Duration does.
func FormatDuration(d time.Duration) string {
	const day = 24 * time.Hour
	switch {
	case d >= day && d%day == 0:
		return fmt.Sprintf("%dd", d/day)
	case d >= day:
		return fmt.Sprintf("%dd%s", d/day, short(d%day))
	}
	return short(d)
}

// short prints d without zero minutes or seconds at its end: "1h", "1h30m", "90s".
func short(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// warnFolderPath warns about a folder that is the root of a file system, a
// system directory or a whole home directory: every file in it would be uploaded.
func (v *validator) warnFolderPath(key string, line int, p string) {
	if why := systemPath(p); why != "" {
		v.warn(key, line, "%s is %s: every file in it would be uploaded to Focus; name the folder you mean to mirror", p, why)
	}
}

// systemPath says why p is no folder to mirror, or "".
func systemPath(p string) string {
	p = filepath.Clean(p)
	if vol := filepath.VolumeName(p); p == vol+string(filepath.Separator) || p == vol {
		return "the root of a file system"
	}
	if home, err := os.UserHomeDir(); err == nil && filepath.Clean(home) == p {
		return "a whole home directory"
	}
	var system []string
	switch runtime.GOOS {
	case "windows":
		for _, env := range []string{"SystemRoot", "ProgramFiles", "ProgramFiles(x86)", "ProgramData", "USERPROFILE"} {
			if d := os.Getenv(env); d != "" {
				system = append(system, filepath.Clean(d))
			}
		}
	default:
		system = []string{"/bin", "/boot", "/dev", "/etc", "/home", "/lib", "/lib64", "/opt", "/proc", "/root",
			"/run", "/sbin", "/srv", "/sys", "/tmp", "/usr", "/var", "/Users", "/System", "/Library",
			"/Applications", "/Volumes", "/private", "/mnt", "/media"}
	}
	for _, s := range system {
		if p == s {
			return "a system directory"
		}
	}
	return ""
}

// warnBaseURL warns about an API address over plain http to another machine:
// the token would travel unencrypted.
func (v *validator) warnBaseURL(raw string) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "http" {
		return
	}
	host := u.Hostname()
	if ip := net.ParseIP(host); host == "localhost" || ip != nil && ip.IsLoopback() {
		return
	}
	v.warn("api.base_url", v.idx.line("api.base_url"), "%s is plain http to %s, not this machine: the API token "+
		"would travel unencrypted; use https", raw, host)
}
