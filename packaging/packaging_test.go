package packaging

import (
	"encoding/xml"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// unitLines returns the unit's lines by section, skipping comments and blanks.
func unitLines(t *testing.T, unit string) map[string][]string {
	t.Helper()
	sections := map[string][]string{}
	section := ""
	for _, l := range strings.Split(unit, "\n") {
		switch {
		case l == "" || strings.HasPrefix(l, "#"):
		case strings.HasPrefix(l, "[") && strings.HasSuffix(l, "]"):
			section = l
		default:
			if section == "" {
				t.Fatalf("line %q outside any section", l)
			}
			sections[section] = append(sections[section], l)
		}
	}
	return sections
}

func TestSystemdUnit_System(t *testing.T) {
	unit := SystemdUnit(UnitParams{
		Exe:    "/usr/bin/focussync",
		Config: "/etc/focussync/config.toml",
	})
	s := unitLines(t, unit)
	want := map[string][]string{
		"[Unit]": {
			"After=network-online.target remote-fs.target",
			"Wants=network-online.target",
			"StartLimitIntervalSec=300",
			"StartLimitBurst=5",
			"Documentation=" + Documentation,
			"Description=" + DefaultDescription,
		},
		"[Service]": {
			"Type=notify",
			"NotifyAccess=main",
			"WatchdogSec=60s",
			"User=focussync",
			"Group=focussync",
			"ExecStart=/usr/bin/focussync run --config /etc/focussync/config.toml",
			"ExecReload=/bin/kill -HUP $MAINPID",
			"Restart=on-failure",
			"RestartSec=5s",
			"TimeoutStopSec=30",
			"StateDirectory=focussync",
			"StateDirectoryMode=0700",
			"ConfigurationDirectory=focussync",
			"LoadCredential=token:/etc/focussync/token",
			"NoNewPrivileges=yes",
			"ProtectSystem=strict",
			"ProtectHome=read-only",
			"PrivateTmp=yes",
			"PrivateDevices=yes",
			"ProtectKernelTunables=yes",
			"ProtectKernelModules=yes",
			"ProtectControlGroups=yes",
			"RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
			"RestrictNamespaces=yes",
			"LockPersonality=yes",
			"MemoryDenyWriteExecute=yes",
			"RestrictRealtime=yes",
			"SystemCallArchitectures=native",
			"CapabilityBoundingSet=",
			"UMask=0077",
			"ReadWritePaths=/var/lib/focussync",
			"LimitNOFILE=65536",
		},
		"[Install]": {"WantedBy=multi-user.target"},
	}
	for sec, lines := range want {
		for _, l := range lines {
			if !slices.Contains(s[sec], l) {
				t.Errorf("%s lacks %q\n%s", sec, l, unit)
			}
		}
	}
	for _, bad := range []string{"RestartSec=120", "{{", "StartLimitInterval=5", "ReadOnlyPaths"} {
		if strings.Contains(unit, bad) {
			t.Errorf("unit contains %q", bad)
		}
	}
	for _, l := range s["[Service]"] {
		if strings.HasPrefix(l, "StartLimit") {
			t.Errorf("[Service] has %q: start limits belong in [Unit]", l)
		}
	}
	if !strings.Contains(unit, `token_file = "/etc/focussync/token"`) {
		t.Errorf("unit does not tell which token_file to configure\n%s", unit)
	}
}

func TestSystemdUnit_UserService(t *testing.T) {
	unit := SystemdUnit(UnitParams{
		Name: "fs2", Exe: "/home/ann/bin/focussync", Config: "/home/ann/.config/focussync/config.toml",
		User: "ann", Group: "ann", UserService: true,
	})
	s := unitLines(t, unit)
	for _, l := range []string{
		"ExecStart=/home/ann/bin/focussync run --config /home/ann/.config/focussync/config.toml",
		"Restart=on-failure", "RestartSec=5s", "NoNewPrivileges=yes",
	} {
		if !slices.Contains(s["[Service]"], l) {
			t.Errorf("[Service] lacks %q\n%s", l, unit)
		}
	}
	if got, want := s["[Install]"], []string{"WantedBy=default.target"}; !slices.Equal(got, want) {
		t.Errorf("[Install] = %q, want %q", got, want)
	}
	for _, l := range s["[Service]"] {
		for _, root := range []string{"User=", "Group=", "StateDirectory", "LoadCredential", "ProtectSystem", "CapabilityBoundingSet", "PrivateTmp", "ReadWritePaths"} {
			if strings.HasPrefix(l, root) {
				t.Errorf("user unit has %q, which needs the system manager", l)
			}
		}
	}
}

func TestSystemdUnit_OtherUserHasNoDefaultGroup(t *testing.T) {
	s := unitLines(t, SystemdUnit(UnitParams{Exe: "/usr/bin/focussync", Config: "/etc/f.toml", User: "ann"}))
	if !slices.Contains(s["[Service]"], "User=ann") {
		t.Errorf("no User=ann in %q", s["[Service]"])
	}
	for _, l := range s["[Service]"] {
		if strings.HasPrefix(l, "Group=") {
			t.Errorf("unexpected %q: the user's primary group applies", l)
		}
	}
}

func TestSystemdQuote(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"/usr/bin/focussync", "/usr/bin/focussync"},
		{"/opt/my apps/focussync", `"/opt/my apps/focussync"`},
		{"/srv/100%/x", "/srv/100%%/x"},
		{"/srv/$HOME", "/srv/$$HOME"},
		{`/srv/a"b`, `"/srv/a\"b"`},
		{`C:\x`, `"C:\\x"`},
		{"", `""`},
	} {
		if got := systemdQuote(tc.in); got != tc.want {
			t.Errorf("systemdQuote(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// plistDoc decodes the top-level dict of a property list into key -> raw
// element name or string value, enough to check the fields we write.
func plistDoc(t *testing.T, doc string) (keys []string, strs map[string][]string, elems map[string]string) {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(doc))
	strs, elems = map[string][]string{}, map[string]string{}
	var stack []string
	key, lastKey := "", ""
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("plist is not well-formed XML: %v\n%s", err, doc)
		}
		switch tk := tok.(type) {
		case xml.StartElement:
			stack = append(stack, tk.Name.Local)
			if len(stack) == 3 && tk.Name.Local != "key" && lastKey != "" {
				elems[lastKey] = tk.Name.Local
			}
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) == 0 {
				continue
			}
			text := string(tk)
			switch top := stack[len(stack)-1]; {
			case top == "key" && len(stack) == 3:
				key, lastKey = text, text
				keys = append(keys, text)
			case top == "string" && len(stack) >= 3:
				strs[key] = append(strs[key], text)
			}
		}
	}
	return keys, strs, elems
}

func TestLaunchdPlist(t *testing.T) {
	doc := LaunchdPlist(PlistParams{Exe: "/usr/local/bin/focussync", Config: "/Users/Shared/a&b <x>.toml", UserName: "_focussync"})
	if strings.Contains(doc, "{{") {
		t.Fatalf("plist contains a template action:\n%s", doc)
	}
	_, strs, elems := plistDoc(t, doc)
	if got := strs["Label"]; !slices.Equal(got, []string{"focussync"}) {
		t.Errorf("Label = %q", got)
	}
	if got, want := strs["ProgramArguments"], []string{"/usr/local/bin/focussync", "run", "--config", "/Users/Shared/a&b <x>.toml", "--log-file", DaemonLogPath}; !slices.Equal(got, want) {
		t.Errorf("ProgramArguments = %q, want %q", got, want)
	}
	if got := strs["UserName"]; !slices.Equal(got, []string{"_focussync"}) {
		t.Errorf("UserName = %q", got)
	}
	if got := strs["StandardErrorPath"]; !slices.Equal(got, []string{"/Library/Logs/focussync/launchd.log"}) {
		t.Errorf("StandardErrorPath = %q", got)
	}
	if elems["RunAtLoad"] != "true" || elems["KeepAlive"] != "dict" || elems["ThrottleInterval"] != "integer" {
		t.Errorf("RunAtLoad, KeepAlive, ThrottleInterval = %s, %s, %s", elems["RunAtLoad"], elems["KeepAlive"], elems["ThrottleInterval"])
	}
	if !strings.Contains(doc, "<key>SuccessfulExit</key>\n\t\t<false/>") || !strings.Contains(doc, "<integer>5</integer>") {
		t.Errorf("KeepAlive must restart only after a failure, throttled 5 s:\n%s", doc)
	}
}

// TestLaunchdPlist_DedicatedUser checks that the committed LaunchDaemon runs as
// its own account, says how to create it, and that its logs are bounded.
func TestLaunchdPlist_DedicatedUser(t *testing.T) {
	doc := LaunchdPlist(MacPlistParams())
	_, strs, _ := plistDoc(t, doc)
	if got := strs["UserName"]; !slices.Equal(got, []string{MacUser}) {
		t.Errorf("UserName = %q, want %s", got, MacUser)
	}
	for _, want := range []string{"dscl . -create /Users/_focussync UniqueID", MacStatePath, "newsyslog"} {
		if !strings.Contains(doc, want) {
			t.Errorf("the plist's comment lacks %q:\n%s", want, doc)
		}
	}
	conf := NewsyslogConf(MacPlistParams())
	if !strings.Contains(conf, "\n/Library/Logs/focussync/launchd.log _focussync:_focussync 600 5 1024 * JN\n") {
		t.Errorf("newsyslog entry:\n%s", conf)
	}
}

func TestLaunchdPlist_UserAgent(t *testing.T) {
	doc := LaunchdPlist(PlistParams{Exe: "/Users/ann/bin/focussync", Config: "/Users/ann/fs.toml", UserName: "root", UserAgent: true, Home: "/Users/ann"})
	keys, strs, _ := plistDoc(t, doc)
	if slices.Contains(keys, "UserName") {
		t.Errorf("a LaunchAgent has UserName:\n%s", doc)
	}
	if got, want := strs["StandardOutPath"], []string{"/Users/ann/Library/Logs/focussync/launchd.log"}; !slices.Equal(got, want) {
		t.Errorf("StandardOutPath = %q, want %q", got, want)
	}
	if !strings.Contains(doc, "launchctl bootstrap gui/$(id -u)") {
		t.Errorf("a LaunchAgent's comment should say how to load it into the user's domain:\n%s", doc)
	}
}

// TestCommittedFiles checks that the files committed in this directory are the
// ones the package renders: run `go generate ./packaging` after a change.
func TestCommittedFiles(t *testing.T) {
	files := Files()
	if len(files) != 3 {
		t.Fatalf("Files() has %d files, want 3", len(files))
	}
	for name, want := range files {
		got, err := os.ReadFile(filepath.Join(".", name))
		if err != nil {
			t.Fatalf("read committed %s: %v", name, err)
		}
		if string(got) != want {
			t.Errorf("%s differs from the rendered text: run 'go generate ./packaging'", name)
		}
	}
	if !strings.Contains(files["focussync.service"], "ExecStart=/usr/bin/focussync run --config /etc/focussync/config.toml\n") {
		t.Errorf("packaged unit does not run /usr/bin/focussync with /etc/focussync/config.toml")
	}
}
