package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kardianos/service"

	"github.com/focussync/focussync/config"
	"github.com/focussync/focussync/internal/testutil"
	"github.com/focussync/focussync/packaging"
)

func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = runMain(context.Background(), &app{stdout: &out, stderr: &errb}, args)
	return code, out.String(), errb.String()
}

func TestService_Usage(t *testing.T) {
	for _, tc := range []struct {
		args   []string
		code   int
		output []string // on stdout for help (exit 0), on stderr for errors
	}{
		{[]string{"service", "-h"}, 0, []string{"Usage: focussync service <action>", "install", "uninstall", "restart", "status"}},
		{[]string{"service", "install", "-h"}, 0, []string{"Usage: focussync service install [--config FILE]", "-c, --config FILE", "--user ACCOUNT", "--user-service", "--name NAME"}},
		{[]string{"service", "status", "-h"}, 0, []string{"Usage: focussync service status", "--user-service"}},
		{[]string{"service"}, 2, []string{"missing action"}},
		{[]string{"service", "reinstall"}, 2, []string{`unknown action "reinstall"`, "Run 'focussync service -h'"}},
		{[]string{"service", "start", "--config", "x.toml"}, 2, []string{"unknown flag: --config"}},
		{[]string{"service", "install", "--config", "x.toml", "--name", "bad name"}, 2, []string{`--name "bad name"`}},
		{[]string{"service", "install", "--config", "x.toml", "--user", "ann", "--user-service"}, 2, []string{"exclude each other"}},
		{[]string{"service", "stop", "extra"}, 2, []string{`unexpected argument "extra"`}},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			code, stdout, stderr := runCLI(t, tc.args...)
			if code != tc.code {
				t.Errorf("exit code = %d, want %d; stderr:\n%s", code, tc.code, stderr)
			}
			out, other := stderr, stdout
			if tc.code == 0 {
				out, other = stdout, stderr // help goes to stdout
			}
			if n := strings.Count(out, "Usage:"); n > 1 {
				t.Errorf("usage printed %d times:\n%s", n, out)
			}
			if other != "" {
				t.Errorf("the other stream = %q, want nothing", other)
			}
			for _, s := range tc.output {
				if !strings.Contains(out, s) {
					t.Errorf("output lacks %q:\n%s", s, out)
				}
			}
		})
	}
}

func TestService_InstallRefusesBadConfig(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.toml")
	if err := os.WriteFile(bad, []byte("[api]\norganization_id = -1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ path, want string }{
		{filepath.Join(dir, "missing.toml"), "no such file"},
		{dir, "not a regular file"},
		{bad, "organization_id"},
	} {
		code, _, stderr := runCLI(t, "service", "install", "--config", tc.path)
		if code != 1 || !strings.Contains(stderr, tc.want) {
			t.Errorf("install --config %s: exit %d, stderr %q; want exit 1 and %q", tc.path, code, stderr, tc.want)
		}
	}
}

func linuxOpts() serviceOptions {
	return serviceOptions{action: "install", name: "focussync", config: "/etc/focussync/config.toml", goos: "linux",
		folders: []string{"/srv/share/acme", "/srv/share/b c"}, leaseFolders: []string{"/srv/share/acme", "/srv/share/b c"}}
}

// kinds returns the reflect kind of each option value.
func kinds(kv service.KeyValue) map[string]reflect.Kind {
	m := map[string]reflect.Kind{}
	for k, v := range kv {
		m[k] = reflect.TypeOf(v).Kind()
	}
	return m
}

func TestServiceConfig_Linux(t *testing.T) {
	c, err := serviceConfig(linuxOpts(), "/usr/local/bin/focussync")
	if err != nil {
		t.Fatal(err)
	}
	if c.Name != "focussync" || c.Executable != "/usr/local/bin/focussync" || c.UserName != "focussync" {
		t.Errorf("Name, Executable, UserName = %q, %q, %q", c.Name, c.Executable, c.UserName)
	}
	if want := []string{"run", "--config", "/etc/focussync/config.toml"}; !slices.Equal(c.Arguments, want) {
		t.Errorf("Arguments = %q, want %q", c.Arguments, want)
	}
	if want := []string{"After=network-online.target remote-fs.target", "Wants=network-online.target"}; !slices.Equal(c.Dependencies, want) {
		t.Errorf("Dependencies = %q, want %q", c.Dependencies, want)
	}
	wantKinds := map[string]reflect.Kind{"UserService": reflect.Bool, "Restart": reflect.String, "SystemdScript": reflect.String}
	if got := kinds(c.Option); !reflect.DeepEqual(got, wantKinds) {
		t.Errorf("option kinds = %v, want %v", got, wantKinds)
	}
	if c.Option["UserService"] != false || c.Option["Restart"] != "on-failure" {
		t.Errorf("UserService, Restart = %v, %v", c.Option["UserService"], c.Option["Restart"])
	}
	unit := c.Option["SystemdScript"].(string)
	for _, l := range []string{
		"\nExecStart=/usr/local/bin/focussync run --config /etc/focussync/config.toml\n",
		"\nUser=focussync\n", "\nRestartSec=5s\n", "\nWantedBy=multi-user.target\n",
		// The share lease is written into each folder through the sandbox.
		"\nReadWritePaths=-/srv/share/acme\n", "\nReadWritePaths=\"-/srv/share/b c\"\n",
	} {
		if !strings.Contains(unit, l) {
			t.Errorf("unit lacks %q:\n%s", strings.TrimSpace(l), unit)
		}
	}
	if strings.Contains(unit, "{{") || strings.Contains(unit, "RestartSec=120") {
		t.Errorf("unit has a template action or the library's restart delay:\n%s", unit)
	}
}

func TestServiceConfig_LinuxUserService(t *testing.T) {
	o := linuxOpts()
	o.userService = true
	o.config = "/home/ann/fs.toml"
	c, err := serviceConfig(o, "/home/ann/bin/focussync")
	if err != nil {
		t.Fatal(err)
	}
	if c.UserName != "" || c.Option["UserService"] != true {
		t.Errorf("UserName %q, UserService %v; want none and true", c.UserName, c.Option["UserService"])
	}
	unit := c.Option["SystemdScript"].(string)
	if !strings.Contains(unit, "\nWantedBy=default.target\n") || strings.Contains(unit, "\nUser=") {
		t.Errorf("user unit:\n%s", unit)
	}
}

func TestServiceConfig_OtherUser(t *testing.T) {
	o := linuxOpts()
	o.user = "ann"
	c, err := serviceConfig(o, "/usr/bin/focussync")
	if err != nil {
		t.Fatal(err)
	}
	if unit := c.Option["SystemdScript"].(string); c.UserName != "ann" || !strings.Contains(unit, "\nUser=ann\n") {
		t.Errorf("UserName %q, unit:\n%s", c.UserName, unit)
	}
}

func TestServiceConfig_Windows(t *testing.T) {
	o := serviceOptions{action: "install", name: "focussync", config: `C:\ProgramData\focussync\config.toml`, goos: "windows",
		user: `CORP\svc-focus`, password: "pw"}
	c, err := serviceConfig(o, `C:\Program Files\focussync\focussync.exe`)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"run", "--config", `C:\ProgramData\focussync\config.toml`}; !slices.Equal(c.Arguments, want) {
		t.Errorf("Arguments = %q, want %q", c.Arguments, want)
	}
	if c.UserName != `CORP\svc-focus` || !slices.Equal(c.Dependencies, []string{"LanmanWorkstation"}) {
		t.Errorf("UserName %q, Dependencies %q", c.UserName, c.Dependencies)
	}
	wantKinds := map[string]reflect.Kind{
		"StartType": reflect.String, "DelayedAutoStart": reflect.Bool, "OnFailure": reflect.String,
		"OnFailureDelayDuration": reflect.String, "OnFailureResetPeriod": reflect.Int, "Password": reflect.String,
	}
	if got := kinds(c.Option); !reflect.DeepEqual(got, wantKinds) {
		t.Errorf("option kinds = %v, want %v", got, wantKinds)
	}
	if c.Option["OnFailure"] != "restart" || c.Option["OnFailureDelayDuration"] != "5s" || c.Option["OnFailureResetPeriod"] != 60 {
		t.Errorf("recovery options = %v", c.Option)
	}
	if _, err := serviceConfig(serviceOptions{name: "focussync", config: `C:\x.toml`, goos: "windows", userService: true}, `C:\f.exe`); err == nil {
		t.Error("a Windows per-user service was accepted")
	}
}

func TestServiceConfig_Darwin(t *testing.T) {
	o := serviceOptions{action: "install", name: "focussync", config: "/Users/ann/fs.toml", goos: "darwin", userService: true, home: "/Users/ann"}
	c, err := serviceConfig(o, "/usr/local/bin/focussync")
	if err != nil {
		t.Fatal(err)
	}
	wantKinds := map[string]reflect.Kind{"UserService": reflect.Bool, "RunAtLoad": reflect.Bool, "KeepAlive": reflect.Bool, "LaunchdConfig": reflect.String}
	if got := kinds(c.Option); !reflect.DeepEqual(got, wantKinds) {
		t.Errorf("option kinds = %v, want %v", got, wantKinds)
	}
	plist := c.Option["LaunchdConfig"].(string)
	for _, s := range []string{"<string>/usr/local/bin/focussync</string>", "<string>/Users/ann/fs.toml</string>", "<string>/Users/ann/Library/Logs/focussync/focussync.log</string>"} {
		if !strings.Contains(plist, s) {
			t.Errorf("plist lacks %q:\n%s", s, plist)
		}
	}
	if len(c.Dependencies) != 0 {
		t.Errorf("Dependencies = %q, want none", c.Dependencies)
	}
	// A LaunchDaemon runs as its own account unless told otherwise.
	o.userService, o.home = false, ""
	if c, err = serviceConfig(o, "/usr/local/bin/focussync"); err != nil {
		t.Fatal(err)
	}
	if plist := c.Option["LaunchdConfig"].(string); c.UserName != "_focussync" || !strings.Contains(plist, "<key>UserName</key>\n\t<string>_focussync</string>") {
		t.Errorf("a LaunchDaemon runs as %q:\n%s", c.UserName, plist)
	}
}

func TestServiceConfig_RefusesRelativeAndTemplatePaths(t *testing.T) {
	o := linuxOpts()
	o.config = "config.toml"
	if _, err := serviceConfig(o, "/usr/bin/focussync"); err == nil || !strings.Contains(err.Error(), "absolute") {
		t.Errorf("relative config: err = %v", err)
	}
	if _, err := serviceConfig(linuxOpts(), "focussync"); err == nil || !strings.Contains(err.Error(), "absolute") {
		t.Errorf("relative executable: err = %v", err)
	}
	o = linuxOpts()
	o.config = "/etc/{{x}}.toml"
	if _, err := serviceConfig(o, "/usr/bin/focussync"); err == nil || !strings.Contains(err.Error(), "{{") {
		t.Errorf("config path with a template action: err = %v", err)
	}
}

func TestWindowsFolderWarnings(t *testing.T) {
	ws := windowsFolderWarnings([]string{`C:\Data\acme`, `Z:\clients\acme`, `\\nas\share\acme`}, "")
	if len(ws) != 2 || !strings.Contains(ws[0], "Z:") || !strings.Contains(ws[0], "UNC") || !strings.Contains(ws[1], "LocalSystem") {
		t.Errorf("warnings for LocalSystem = %q", ws)
	}
	ws = windowsFolderWarnings([]string{`\\nas\share\acme`}, `CORP\svc`)
	if len(ws) != 0 {
		t.Errorf("a UNC path with an account: warnings %q, want none", ws)
	}
}

// fakeService is a service manager's view of one service.
type fakeService struct {
	service.Service
	status    service.Status
	statusErr error
	actionErr error
	calls     []string
}

func (f *fakeService) Status() (service.Status, error) { return f.status, f.statusErr }
func (f *fakeService) act(name string) error           { f.calls = append(f.calls, name); return f.actionErr }
func (f *fakeService) Start() error                    { return f.act("start") }
func (f *fakeService) Stop() error                     { return f.act("stop") }
func (f *fakeService) Restart() error                  { return f.act("restart") }
func (f *fakeService) Uninstall() error                { return f.act("uninstall") }

func TestDoServiceAction(t *testing.T) {
	notInstalled := fmt.Errorf("query: %w", service.ErrNotInstalled)
	for _, tc := range []struct {
		name      string
		action    string
		svc       fakeService
		wantCode  int // exitError code; 0: nil error; -1: any other error
		wantOut   string
		wantErr   string
		wantCalls []string
	}{
		{"status running", "status", fakeService{status: service.StatusRunning}, 0, "running\n", "", nil},
		{"status stopped", "status", fakeService{status: service.StatusStopped}, exitStopped, "stopped\n", "", nil},
		{"status not installed", "status", fakeService{statusErr: notInstalled}, exitNotInstalled, "not installed\n", "", nil},
		{"status unknown", "status", fakeService{statusErr: errors.New(`"systemctl" failed: System has not been booted with systemd as init system (PID 1)`)},
			exitNotInstalled, "unknown: status focussync: \"systemctl\" failed: System has not been booted", "", nil},
		{"start", "start", fakeService{status: service.StatusStopped}, 0, "Started focussync.\n", "", []string{"start"}},
		{"start not installed", "start", fakeService{statusErr: notInstalled}, -1, "", "focussync is not installed as a service", nil},
		{"stop needs root", "stop", fakeService{status: service.StatusRunning, actionErr: errors.New(`"systemctl" failed: Failed to stop focussync.service: Access denied`)},
			-1, "", "needs root: run with sudo", []string{"stop"}},
		{"uninstall stops first", "uninstall", fakeService{status: service.StatusRunning}, 0, "left in place", "", []string{"stop", "uninstall"}},
		{"uninstall stopped", "uninstall", fakeService{status: service.StatusStopped}, 0, "left in place", "", []string{"uninstall"}},
		{"uninstall not installed", "uninstall", fakeService{statusErr: notInstalled}, -1, "", "not installed", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			svc := tc.svc
			err := doServiceAction(context.Background(), &svc, serviceOptions{action: tc.action, name: "focussync", goos: "linux"}, &out)
			var ee exitError
			switch {
			case tc.wantCode == 0 && err != nil:
				t.Errorf("err = %v, want nil", err)
			case tc.wantCode > 0 && (!errors.As(err, &ee) || ee.code != tc.wantCode):
				t.Errorf("err = %v, want exit code %d", err, tc.wantCode)
			case tc.wantCode < 0 && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("err = %v, want one saying %q", err, tc.wantErr)
			}
			if !strings.Contains(out.String(), tc.wantOut) || (tc.wantOut == "" && out.Len() > 0) {
				t.Errorf("output = %q, want %q", out.String(), tc.wantOut)
			}
			if !slices.Equal(svc.calls, tc.wantCalls) {
				t.Errorf("calls = %q, want %q", svc.calls, tc.wantCalls)
			}
		})
	}
}

func TestExplainServiceError(t *testing.T) {
	o := serviceOptions{action: "install", name: "focussync", goos: "linux"}
	for _, tc := range []struct {
		err  error
		want string
	}{
		{errors.New("Init already exists: /etc/systemd/system/focussync.service"), "already installed: run 'sudo focussync service uninstall' first"},
		{fmt.Errorf("open /etc/systemd/system/focussync.service: %w", os.ErrPermission), "needs root: run with sudo"},
		{errors.New(`"systemctl" failed: Interactive authentication required.`), "needs root"},
		{errors.New(`"systemctl" failed: Unit focussync.service not found.`), "not installed as a service"},
		{errors.New(`"systemctl" failed: exec: "systemctl": executable file not found in $PATH`), "install focussync: "},
	} {
		if got := explainServiceError(o, tc.err).Error(); !strings.Contains(got, tc.want) {
			t.Errorf("explain(%q) = %q, want it to contain %q", tc.err, got, tc.want)
		}
	}
	o.goos, o.name = "windows", "fs2"
	if got := explainServiceError(o, errors.New("service fs2 already exists")).Error(); !strings.Contains(got, "'focussync service uninstall --name fs2'") {
		t.Errorf("windows already exists: %q", got)
	}
	if got := explainServiceError(o, errors.New("Access is denied.")).Error(); !strings.Contains(got, "Administrator") {
		t.Errorf("windows access denied: %q", got)
	}
}

func TestServiceProgram_StopCancelsRun(t *testing.T) {
	var started, exited atomic.Bool
	p := newServiceProgram(func(ctx context.Context) error {
		started.Store(true)
		<-ctx.Done()
		return nil
	})
	p.exit = func(int) { exited.Store(true) }
	if err := p.Start(nil); err != nil {
		t.Fatal(err)
	}
	testutil.WaitUntil(t, 10*time.Second, "run to start", started.Load)
	if err := p.Stop(nil); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if err := p.result(); err != nil {
		t.Errorf("result = %v, want nil", err)
	}
	if exited.Load() {
		t.Error("the process was ended after a requested stop")
	}
}

func TestServiceProgram_RunEndingByItselfExits(t *testing.T) {
	var code atomic.Int32
	code.Store(-1)
	var reported atomic.Value
	p := newServiceProgram(func(ctx context.Context) error { return errors.New("config: bad") })
	p.exit = func(c int) { code.Store(int32(c)) }
	p.report = func(err error) { reported.Store(err.Error()) }
	if err := p.Start(nil); err != nil {
		t.Fatal(err)
	}
	testutil.WaitUntil(t, 10*time.Second, "exit", func() bool { return code.Load() != -1 })
	if code.Load() != 1 || reported.Load() != "config: bad" {
		t.Errorf("exit code %d, reported %v; want 1 and the run error", code.Load(), reported.Load())
	}
}

func TestServiceProgram_StopTimesOut(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	p := newServiceProgram(func(ctx context.Context) error { <-release; return nil })
	p.stopTimeout = time.Millisecond
	p.exit = func(int) {}
	if err := p.Start(nil); err != nil {
		t.Fatal(err)
	}
	if err := p.Stop(nil); err == nil || !strings.Contains(err.Error(), "did not stop") {
		t.Errorf("Stop = %v, want a timeout error", err)
	}
}

func TestRunUnderServiceManager_NotWindows(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("this process is not started by the Service Control Manager either, but Interactive() decides there")
	}
	called := false
	handled, err := runUnderServiceManager(func(context.Context) error { called = true; return nil })
	if handled || err != nil || called {
		t.Errorf("handled %v, err %v, run called %v; want false, nil, false", handled, err, called)
	}
}

func TestInstallWarnings_Linux(t *testing.T) {
	o := linuxOpts()
	cfg := &config.Config{API: config.API{TokenFile: "/home/ann/token"}}
	ws := strings.Join(installWarnings(o, cfg), "\n")
	if !strings.Contains(ws, `token_file = "/etc/focussync/token"`) {
		t.Errorf("no warning about token_file:\n%s", ws)
	}
	for _, right := range []string{packaging.TokenSource, packaging.CredentialPath("focussync")} {
		cfg.API.TokenFile = right
		ws = strings.Join(installWarnings(o, cfg), "\n")
		if strings.Contains(ws, "token_file =") {
			t.Errorf("warning about token_file = %q, which is right:\n%s", right, ws)
		}
	}
	o.userService = true
	ws = strings.Join(installWarnings(o, cfg), "\n")
	if strings.Contains(ws, "/run/credentials") || !strings.Contains(ws, "enable-linger") {
		t.Errorf("user service warnings:\n%s", ws)
	}
}

func TestWindowsBuiltinAccount(t *testing.T) {
	for acct, want := range map[string]bool{
		"LocalSystem": true, `NT AUTHORITY\NetworkService`: true, `NT SERVICE\focussync`: true,
		`CORP\gmsa-focus$`: true, `CORP\svc-focus`: false, `.\ann`: false,
	} {
		if got := windowsBuiltinAccount(acct); got != want {
			t.Errorf("windowsBuiltinAccount(%q) = %v, want %v", acct, got, want)
		}
	}
}

func TestService_InstallNeedsSystemdOnLinux(t *testing.T) {
	if runtime.GOOS != "linux" || service.Platform() == "linux-systemd" {
		t.Skipf("this test needs Linux without systemd (platform %q): on systemd it would install", service.Platform())
	}
	dir := t.TempDir()
	folder := filepath.Join(dir, "acme")
	if err := os.Mkdir(folder, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "config.toml")
	body := fmt.Sprintf("[api]\norganization_id = 1\nworkspace_id = 2\n[state]\npath = %q\n[[folder]]\npath = %q\ntask_id = 3\n",
		filepath.Join(dir, "state.db"), folder)
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runCLI(t, "service", "install", "--config", cfg)
	if code != 1 || !strings.Contains(stderr, "systemd service only") || stdout != "" {
		t.Errorf("exit %d, stdout %q, stderr %q; want exit 1 and a message that systemd is needed", code, stdout, stderr)
	}
}

// TestServiceConfig_LibraryWritesOurUnit installs a per-user systemd unit
// into a temporary home through the library's systemd backend and checks the
// file it writes is our unit byte for byte: the library's template engine
// must find nothing to expand in it. The library then runs `systemctl --user
// enable`, which fails without a user manager; only the file matters here.
func TestServiceConfig_LibraryWritesOurUnit(t *testing.T) {
	var systemd service.System
	for _, s := range service.AvailableSystems() {
		if s.String() == "linux-systemd" {
			systemd = s
		}
	}
	if systemd == nil {
		t.Skipf("the service library has no systemd backend on %s", runtime.GOOS)
	}
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", "")
	o := linuxOpts()
	o.name = fmt.Sprintf("focussync-test-%d", os.Getpid())
	o.userService = true
	o.config = "/srv/100% sure/$HOME/config.toml"
	c, err := serviceConfig(o, "/opt/focus sync/focussync")
	if err != nil {
		t.Fatal(err)
	}
	s, err := systemd.New(noopProgram{}, c)
	if err != nil {
		t.Fatal(err)
	}
	installErr := s.Install()
	got, err := os.ReadFile(filepath.Join(home, ".config", "systemd", "user", o.name+".service"))
	if err != nil {
		t.Fatalf("the library wrote no unit (install: %v): %v", installErr, err)
	}
	if want := c.Option["SystemdScript"].(string); string(got) != want {
		t.Errorf("the library changed the unit:\ngot:\n%s\nwant:\n%s", got, want)
	}
	if !strings.Contains(string(got), `ExecStart="/opt/focus sync/focussync" run --config "/srv/100%% sure/$$HOME/config.toml"`) {
		t.Errorf("ExecStart not quoted for systemd:\n%s", got)
	}
}
