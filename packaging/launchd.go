package packaging

import (
	"encoding/xml"
	"fmt"
	"path"
	"strings"
	"text/template"
)

// Paths used by the launchd property list when a parameter is left empty.
const (
	// DaemonLogPath is where a LaunchDaemon's output goes. /Library/Logs
	// exists on every Mac, so launchd can always create the file there.
	DaemonLogPath = "/Library/Logs/focussync.log"
	// AgentLogFile is the log file's path under the user's home directory for
	// a LaunchAgent.
	AgentLogFile = "Library/Logs/focussync.log"
)

// PlistParams describes one launchd job.
type PlistParams struct {
	Label     string // the job's label, also the service name; DefaultName when empty
	Exe       string // absolute path of the focussync binary
	Config    string // absolute path of the configuration file
	UserName  string // a LaunchDaemon's account; empty runs it as root
	UserAgent bool   // a per-user LaunchAgent instead of a system LaunchDaemon
	Home      string // the user's home directory, for a LaunchAgent's log path
	LogPath   string // stdout and stderr; DaemonLogPath, or Home/AgentLogFile for an agent, when empty
}

// LaunchdPlist renders a launchd property list that runs `focussync run
// --config` at load and restarts it 5 s after it exits with an error (a clean
// exit, after SIGTERM from launchctl, stays down). Strings are XML-escaped;
// the result contains no template actions.
func LaunchdPlist(p PlistParams) string {
	if p.Label == "" {
		p.Label = DefaultName
	}
	if p.UserAgent {
		p.UserName = ""
	}
	if p.LogPath == "" {
		switch {
		case !p.UserAgent:
			p.LogPath = DaemonLogPath
		case p.Home != "":
			p.LogPath = path.Join(p.Home, AgentLogFile)
		}
	}
	data := plistData{
		PlistParams: p,
		Args:        []string{p.Exe, "run", "--config", p.Config},
		Kind:        "LaunchDaemon",
		Dir:         "/Library/LaunchDaemons",
		Domain:      "system",
		Sudo:        "sudo ",
	}
	if p.UserAgent {
		data.Kind, data.Dir, data.Domain, data.Sudo = "LaunchAgent", "~/Library/LaunchAgents", "gui/$(id -u)", ""
	}
	var b strings.Builder
	if err := plistTemplate.Execute(&b, data); err != nil {
		panic(fmt.Sprintf("bug: launchd plist template: %v", err))
	}
	return b.String()
}

type plistData struct {
	PlistParams
	Args   []string
	Kind   string
	Dir    string
	Domain string
	Sudo   string
}

// xmlText escapes s for XML character data.
func xmlText(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s)) // a strings.Builder never fails
	return b.String()
}

// xmlComment makes s safe inside an XML comment, where "--" is not allowed.
func xmlComment(s string) string {
	return strings.ReplaceAll(s, "--", "- -")
}

var plistTemplate = template.Must(template.New("plist").Funcs(template.FuncMap{
	"x": xmlText,
	"c": xmlComment,
}).Parse(`<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<!--
  focussync as a {{.Kind}}. Install and start:
    {{.Sudo}}cp {{c .Label}}.plist {{c .Dir}}/{{c .Label}}.plist
    {{.Sudo}}launchctl bootstrap {{.Domain}} {{c .Dir}}/{{c .Label}}.plist
  Reload the configuration: {{.Sudo}}launchctl kill HUP {{.Domain}}/{{c .Label}}
  The API token comes from the file named by [api] token_file in the
  configuration (mode 0600, readable by the account the job runs as).
-->
<plist version="1.0">
<dict>
	<key>Label</key>
	<string>{{x .Label}}</string>
	<key>ProgramArguments</key>
	<array>
{{- range .Args}}
		<string>{{x .}}</string>
{{- end}}
	</array>
{{- if .UserName}}
	<key>UserName</key>
	<string>{{x .UserName}}</string>
{{- end}}
	<key>RunAtLoad</key>
	<true/>
	<key>KeepAlive</key>
	<dict>
		<key>SuccessfulExit</key>
		<false/>
	</dict>
	<key>ThrottleInterval</key>
	<integer>5</integer>
	<key>ExitTimeOut</key>
	<integer>30</integer>
{{- if .LogPath}}
	<key>StandardOutPath</key>
	<string>{{x .LogPath}}</string>
	<key>StandardErrorPath</key>
	<string>{{x .LogPath}}</string>
{{- end}}
</dict>
</plist>
`))
