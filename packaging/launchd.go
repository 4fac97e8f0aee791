package packaging

import (
	"encoding/xml"
	"fmt"
	"path"
	"strings"
	"text/template"
)

// Paths and names used by the launchd property list when a parameter is left
// empty. focussync writes its log itself (`run --log-file`) and rotates it by
// size; launchd's own output file catches only what is written before the log
// opens or a crash, and newsyslog rotates it (NewsyslogConf).
const (
	// DaemonLogPath is the log of a LaunchDaemon, in a directory of its own
	// that belongs to the job's account.
	DaemonLogPath = "/Library/Logs/focussync/focussync.log"
	// AgentLogFile is the log file's path under the user's home directory for
	// a LaunchAgent.
	AgentLogFile = "Library/Logs/focussync/focussync.log"
	// LaunchdOutput is the name, beside the log, of the file that takes
	// launchd's stdout and stderr of the job.
	LaunchdOutput = "launchd.log"
	// MacUser is the dedicated account a LaunchDaemon runs as.
	MacUser = "_focussync"
	// MacStatePath is where the LaunchDaemon's state db lives ([state] path in
	// the configuration): a directory that belongs to MacUser.
	MacStatePath = "/usr/local/var/focussync/state.db"
)

// PlistParams describes one launchd job.
type PlistParams struct {
	Label     string // the job's label, also the service name; DefaultName when empty
	Exe       string // absolute path of the focussync binary
	Config    string // absolute path of the configuration file
	UserName  string // a LaunchDaemon's account; MacUser when empty ("root" runs it as root)
	UserAgent bool   // a per-user LaunchAgent instead of a system LaunchDaemon
	Home      string // the user's home directory, for a LaunchAgent's log path
	// LogPath is the log that focussync writes and rotates (run --log-file);
	// launchd's output goes to LaunchdOutput in the same directory.
	// DaemonLogPath, or Home/AgentLogFile for an agent, when empty.
	LogPath string
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
	} else if p.UserName == "" {
		p.UserName = MacUser
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
		StatePath:   MacStatePath,
		Kind:        "LaunchDaemon",
		Dir:         "/Library/LaunchDaemons",
		Domain:      "system",
		Sudo:        "sudo ",
	}
	if p.LogPath != "" {
		data.Args = append(data.Args, "--log-file", p.LogPath)
		data.LogDir = path.Dir(p.LogPath)
		data.Output = path.Join(data.LogDir, LaunchdOutput)
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
	StatePath string
	LogDir    string // the log's directory
	Output    string // launchd's stdout and stderr
	Args      []string
	Kind      string
	Dir       string
	Domain    string
	Sudo      string
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
	"x":   xmlText,
	"c":   xmlComment,
	"dir": path.Dir,
}).Parse(`<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<!--
  focussync as a {{.Kind}}. Install and start:
    {{.Sudo}}cp {{c .Label}}.plist {{c .Dir}}/{{c .Label}}.plist
    {{.Sudo}}launchctl bootstrap {{.Domain}} {{c .Dir}}/{{c .Label}}.plist
  Reload the configuration: {{.Sudo}}launchctl kill HUP {{.Domain}}/{{c .Label}}
  The API token comes from the file named by [api] token_file in the
  configuration (mode 0600, readable by the account the job runs as).
{{- if and (not .UserAgent) (ne .UserName "root")}}
  The job runs as the account {{c .UserName}}, not as root. Create it once,
  with its state and log directories (pick a free id below 500 if 450 is
  taken: dscl . -list /Users UniqueID):
    sudo dscl . -create /Groups/{{c .UserName}} PrimaryGroupID 450
    sudo dscl . -create /Users/{{c .UserName}} UniqueID 450
    sudo dscl . -create /Users/{{c .UserName}} PrimaryGroupID 450
    sudo dscl . -create /Users/{{c .UserName}} UserShell /usr/bin/false
    sudo dscl . -create /Users/{{c .UserName}} NFSHomeDirectory /var/empty
    sudo dscl . -create /Users/{{c .UserName}} IsHidden 1
    sudo install -d -m 0700 -o {{c .UserName}} -g {{c .UserName}} {{c (dir .StatePath)}} {{c .LogDir}}
  In the configuration, set [state] path = "{{c .StatePath}}", and make the
  token file {{c .UserName}}'s (sudo chown {{c .UserName}} TOKEN-FILE). The
  folders must be readable by {{c .UserName}}.
{{- end}}
{{- if .LogPath}}
  Logs: {{c .LogPath}}, which focussync rotates itself (10 MiB,
  5 old files); launchd's own output (start-up errors, crashes) goes to
  {{c .Output}}{{if not .UserAgent}}, which newsyslog rotates with
  /etc/newsyslog.d/focussync.conf (packaging/focussync.newsyslog.conf){{end}}.
{{- end}}
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
	<string>{{x .Output}}</string>
	<key>StandardErrorPath</key>
	<string>{{x .Output}}</string>
{{- end}}
</dict>
</plist>
`))

// NewsyslogConf renders the newsyslog(8) entry, for /etc/newsyslog.d/, that
// rotates launchd's output file of the LaunchDaemon p: at 1 MiB, 5 old files
// compressed with bzip2, no signal (launchd reopens the file at the job's next
// start; focussync's own log, beside it, rotates itself).
func NewsyslogConf(p PlistParams) string {
	logPath := p.LogPath
	if logPath == "" {
		logPath = DaemonLogPath
	}
	user := p.UserName
	if user == "" {
		user = MacUser
	}
	out := path.Join(path.Dir(logPath), LaunchdOutput)
	return fmt.Sprintf(`# newsyslog(8) entry for focussync on macOS. Install it with:
#   sudo cp focussync.newsyslog.conf /etc/newsyslog.d/focussync.conf
# It rotates launchd's output of the focussync job (start-up errors, crashes).
# focussync's own log, %s, rotates itself at 10 MiB keeping 5 files.
# logfilename [owner:group] mode count size(KB) when flags
%s %s:%s 600 5 1024 * JN
`, logPath, out, user, user)
}
