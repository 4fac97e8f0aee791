// Package packaging renders the files that install focussync as a system
// service: a hardened systemd unit and a launchd property list. The files
// committed beside this package (focussync.service, focussync.plist) are
// rendered from the same functions; run `go generate ./packaging` after
// changing them.
package packaging

//go:generate go run ./gen -dir .

import (
	"fmt"
	"strings"
	"text/template"
)

// Defaults used by the rendered files when a parameter is left empty.
const (
	DefaultName        = "focussync"
	DefaultUser        = "focussync"
	DefaultDescription = "focussync: mirror local folders into Toggl Focus task attachments"
	Documentation      = "https://github.com/focussync/focussync"
	// TokenSource is the file systemd loads as the unit's "token" credential.
	TokenSource = "/etc/focussync/token"
	// StateDir is the state directory systemd creates for a system unit.
	StateDir = "/var/lib/focussync"
)

// UnitParams describes one systemd unit.
type UnitParams struct {
	Name        string // unit name without ".service"; DefaultName when empty
	Exe         string // absolute path of the focussync binary
	Config      string // absolute path of the configuration file
	User        string // system units: the account to run as; DefaultUser when empty
	Group       string // system units: the group; DefaultUser when empty and User is DefaultUser, else the user's primary group
	Description string // DefaultDescription when empty
	UserService bool   // a per-user unit (systemctl --user): no User=, no root-only sandboxing
	// FolderPaths are the watched folders the service writes its lease record
	// into ([cluster] coordinator = "share"): each becomes a ReadWritePaths= line,
	// since the sandbox leaves everything else read-only. A missing path is
	// ignored by systemd ("-" prefix), so an unmounted share does not stop the unit.
	FolderPaths []string
}

// CredentialPath returns where systemd exposes the token credential to the
// unit named name ($CREDENTIALS_DIRECTORY/token). focussync reads it in place of
// [api] token_file, which names TokenSource, the file the credential is loaded
// from (older configurations name this path itself).
func CredentialPath(name string) string {
	if name == "" {
		name = DefaultName
	}
	return "/run/credentials/" + name + ".service/token"
}

// SystemdUnit renders a systemd unit that runs `focussync run --config` in the
// foreground, of Type=notify with a watchdog: focussync reports its readiness,
// status and reloads on $NOTIFY_SOCKET. focussync handles SIGTERM (clean stop)
// and SIGHUP (reload) itself, so the unit only sends signals. Paths are quoted and escaped for
// systemd; the result contains no template actions.
func SystemdUnit(p UnitParams) string {
	if p.Name == "" {
		p.Name = DefaultName
	}
	if p.Description == "" {
		p.Description = DefaultDescription
	}
	p.Description = strings.ReplaceAll(strings.Join(strings.Fields(p.Description), " "), "%", "%%")
	if !p.UserService {
		if p.User == "" {
			p.User = DefaultUser
		}
		if p.Group == "" && p.User == DefaultUser {
			p.Group = DefaultUser
		}
	} else {
		p.User, p.Group = "", ""
	}
	data := unitData{
		UnitParams:     p,
		Documentation:  Documentation,
		ExecStart:      execLine(p.Exe, "run", "--config", p.Config),
		TokenSource:    TokenSource,
		CredentialPath: CredentialPath(p.Name),
		StateDir:       StateDir,
	}
	if !p.UserService {
		for _, f := range p.FolderPaths {
			data.FolderLines = append(data.FolderLines, systemdQuote("-"+f))
		}
	}
	var b strings.Builder
	if err := unitTemplate.Execute(&b, data); err != nil {
		panic(fmt.Sprintf("bug: systemd unit template: %v", err))
	}
	return b.String()
}

type unitData struct {
	UnitParams
	Documentation  string
	ExecStart      string
	TokenSource    string
	CredentialPath string
	StateDir       string
	FolderLines    []string // ReadWritePaths= values of FolderPaths, quoted
}

// execLine joins a command line for ExecStart=, quoting each word as needed.
func execLine(words ...string) string {
	q := make([]string, len(words))
	for i, w := range words {
		q[i] = systemdQuote(w)
	}
	return strings.Join(q, " ")
}

// systemdQuote escapes s for a unit file: "%" starts a specifier and "$" a
// variable, so both are doubled; a word with spaces, quotes or backslashes
// (or an empty one) is double-quoted with C-style escapes.
func systemdQuote(s string) string {
	s = strings.NewReplacer("%", "%%", "$", "$$").Replace(s)
	if s != "" && !strings.ContainsAny(s, " \t\"'\\;") {
		return s
	}
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

var unitTemplate = template.Must(template.New("unit").Parse(`[Unit]
Description={{.Description}}
Documentation={{.Documentation}}
After=network-online.target remote-fs.target
Wants=network-online.target
# Give up after 5 failed starts in 5 minutes (a broken config or token);
# fix the cause, then: systemctl reset-failed {{.Name}}.
StartLimitIntervalSec=300
StartLimitBurst=5

[Service]
# focussync tells systemd when its first pass of every folder has run (READY),
# what it is doing (STATUS, shown by systemctl status) and that its loops still
# answer: a daemon that stops answering for WatchdogSec is killed and restarted.
# While the first passes run (a large tree, an API quota used up) it asks for
# more start-up time as long as it answers.
Type=notify
NotifyAccess=main
WatchdogSec=60s
{{- if not .UserService}}
User={{.User}}
{{- if .Group}}
Group={{.Group}}
{{- end}}
{{- end}}
ExecStart={{.ExecStart}}
ExecReload=/bin/kill -HUP $MAINPID
Restart=on-failure
RestartSec=5s
TimeoutStopSec=30
UMask=0077
{{- if not .UserService}}
LimitNOFILE=65536

# The API token: systemd reads {{.TokenSource}} (root-only, mode 0600) and
# hands it to the service as the credential "token" ({{.CredentialPath}}),
# which focussync reads in place of [api] token_file. The configuration says:
#   token_file = "{{.TokenSource}}"
# so that "sudo focussync check" outside the service reads the same token.
# The service does not start while {{.TokenSource}} is missing. systemd copies
# the credential at start: after changing the token, restart the service (a
# reload re-reads the configuration but still sees the old token).
LoadCredential=token:{{.TokenSource}}

# State database: {{.StateDir}}/state.db, created for the service user.
StateDirectory=focussync
StateDirectoryMode=0700
ConfigurationDirectory=focussync
ReadWritePaths={{.StateDir}}
{{- range .FolderLines}}
ReadWritePaths={{.}}
{{- end}}

# Sandbox. ProtectSystem=strict
# makes the whole file system read-only to it, except its state directory
# and the paths listed in ReadWritePaths=. With [cluster] coordinator = "share"
# (the default) focussync writes a small hidden lease record into each watched
# folder, so every folder needs a line like
#   ReadWritePaths=-/srv/share/clients/acme
# ("focussync service install" writes them; for the packaged unit add them
# with "systemctl edit focussync"). A folder it cannot write to is paused with
# a message that says so. Folders under /home need ProtectHome=no as well;
# folders under /tmp are not visible (PrivateTmp=yes): keep them elsewhere.
ProtectSystem=strict
ProtectHome=read-only
PrivateTmp=yes
PrivateDevices=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
ProtectProc=invisible
PrivateMounts=yes
CapabilityBoundingSet=
RestrictSUIDSGID=yes
RemoveIPC=yes
{{- else}}

# A per-user service reads its token from the file named by [api] token_file.
{{- end}}
NoNewPrivileges=yes
RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX
RestrictNamespaces=yes
LockPersonality=yes
MemoryDenyWriteExecute=yes
RestrictRealtime=yes
SystemCallArchitectures=native

[Install]
WantedBy={{if .UserService}}default.target{{else}}multi-user.target{{end}}
`))
