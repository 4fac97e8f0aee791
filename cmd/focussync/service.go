package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/kardianos/service"
	"golang.org/x/term"

	"github.com/focussync/focussync/config"
	"github.com/focussync/focussync/packaging"
)

func init() {
	register(&command{name: "service", summary: "install, uninstall, start, stop or query the system service", run: runService, actions: serviceActions})
}

// serviceActions are the actions of `focussync service`, in help order.
var serviceActions = []string{"install", "uninstall", "start", "stop", "restart", "status"}

const serviceHelp = `Usage: focussync service <action> [flags]

Runs 'focussync run --config FILE' under the system's service manager:
systemd on Linux, launchd on macOS, the Service Control Manager on Windows.

Actions:
  install    install the service and enable it at boot (does not start it)
  uninstall  stop and remove the service; the configuration and state stay
  start      start the installed service
  stop       stop it
  restart    stop it and start it again
  status     print running (exit 0), stopped or failed (exit 3), not installed
             (exit 4), or unknown with the reason (exit 4: no service manager
             answered, e.g. a container without systemd)

Run 'focussync service <action> -h' for an action's flags.
`

// Status exit codes, as systemctl and LSB init scripts use them.
const (
	exitStopped      = 3
	exitNotInstalled = 4
)

// windowsPasswordEnv names the environment variable holding the password of
// the Windows account given with --user (else it is asked for on the terminal).
const windowsPasswordEnv = "FOCUSSYNC_SERVICE_PASSWORD"

// serviceOptions is what `focussync service` was asked to do.
type serviceOptions struct {
	action      string
	name        string   // service name
	config      string   // absolute path of the configuration file (install)
	user        string   // account to run as; "" for the platform's default
	password    string   // Windows: the password of user
	userService bool     // per-user unit / LaunchAgent
	goos        string   // target platform, runtime.GOOS outside tests
	home        string   // the user's home directory (macOS LaunchAgent log)
	folders     []string // watched folders
	// leaseFolders are the folders the service writes its share lease into,
	// made writable in the systemd sandbox.
	leaseFolders []string
}

var serviceNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.@-]*$`)

func runService(ctx context.Context, a *app, args []string) error {
	if len(args) == 0 {
		return usageError{"missing action: one of " + strings.Join(serviceActions, ", ")}
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(a.stdout, serviceHelp)
		return flag.ErrHelp
	}
	opts := serviceOptions{action: args[0], goos: runtime.GOOS}
	if !slices.Contains(serviceActions, opts.action) {
		return usageError{fmt.Sprintf("unknown action %q: want one of %s", opts.action, strings.Join(serviceActions, ", "))}
	}
	usage := "service " + opts.action + " [--name NAME] [--user-service]"
	if opts.action == "install" {
		usage = "service install [--config FILE] [--user USER] [--name NAME] [--user-service]"
	}
	fs := newFlagSet(a, "service "+opts.action, usage)
	fs.StringVar(&opts.name, "name", packaging.DefaultName, "the service's `name`")
	fs.BoolVar(&opts.userService, "user-service", false, "a per-user service (systemd --user unit, macOS LaunchAgent) instead of a system one")
	cfgPath := new(string)
	if opts.action == "install" {
		cfgPath = configFlag(fs)
		fs.StringVar(&opts.user, "user", "", "the `account` the service runs as (Linux default: focussync; macOS: _focussync; Windows: LocalSystem)")
	}
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	opts.config = *cfgPath
	if !serviceNameRE.MatchString(opts.name) {
		return usageError{fmt.Sprintf("--name %q: use letters, digits and _.@- only", opts.name)}
	}
	if opts.userService && opts.goos == "windows" {
		return usageError{"--user-service is not supported on Windows"}
	}
	if opts.userService && opts.user != "" {
		return usageError{"--user and --user-service exclude each other: a per-user service runs as you"}
	}
	if opts.action != "install" {
		return controlService(ctx, a, opts)
	}
	return installService(ctx, a, opts)
}

// installService checks the configuration and the binary, then installs.
func installService(ctx context.Context, a *app, opts serviceOptions) error {
	abs, err := filepath.Abs(opts.config)
	if err != nil {
		return fmt.Errorf("config %s: %w", opts.config, err)
	}
	opts.config = abs
	if st, err := os.Stat(abs); err != nil {
		return fmt.Errorf("config: %w", err)
	} else if !st.Mode().IsRegular() {
		return fmt.Errorf("config %s: not a regular file", abs)
	}
	cfg, err := config.Load(abs)
	if err != nil {
		return fmt.Errorf("config %s is not valid, fix it first (check it with 'focussync check --config %s'):\n%w", abs, abs, err)
	}
	for _, f := range cfg.Folders {
		opts.folders = append(opts.folders, f.Path)
	}
	if cfg.Cluster.Coordinator == config.DefaultCoordinator {
		// The share lease is written into each folder: the sandbox must allow it.
		opts.leaseFolders = opts.folders
	}
	if p := service.Platform(); opts.goos == "linux" && p != "linux-systemd" {
		return fmt.Errorf("on Linux, focussync installs itself as a systemd service only, and this system uses %s: have its init system run 'focussync run --config %s'", p, abs)
	}
	exe, err := executablePath()
	if err != nil {
		return err
	}
	if opts.userService {
		if opts.home, err = os.UserHomeDir(); err != nil {
			return fmt.Errorf("find your home directory for the per-user service: %w", err)
		}
	}
	if opts.goos != "windows" && !opts.userService {
		name := opts.user
		switch {
		case name == "" && opts.goos == "linux":
			name = packaging.DefaultUser
		case name == "" && opts.goos == "darwin":
			name = packaging.MacUser
		}
		if name != "" {
			if _, err := user.Lookup(name); err != nil {
				how := "create it"
				switch opts.goos {
				case "linux":
					how = fmt.Sprintf("create it (sudo useradd --system --home-dir %s --shell /usr/sbin/nologin %s)", packaging.StateDir, name)
				case "darwin":
					how = "create it (with dscl, as the comment at the top of packaging/focussync.plist shows)"
				}
				return fmt.Errorf("user %q does not exist: %s or pass --user: %w", name, how, err)
			}
		}
	}
	if opts.goos == "windows" && opts.user != "" && !windowsBuiltinAccount(opts.user) {
		if opts.password, err = windowsPassword(a, opts.user); err != nil {
			return err
		}
	}
	sc, err := serviceConfig(opts, exe)
	if err != nil {
		return err
	}
	for _, w := range installWarnings(opts, cfg) {
		fmt.Fprintf(a.stderr, "warning: %s\n", w)
	}
	s, err := service.New(noopProgram{}, sc)
	if err != nil {
		return fmt.Errorf("install: %w", err)
	}
	if err := s.Install(); err != nil {
		return explainServiceError(opts, err)
	}
	runAs := sc.UserName
	switch {
	case opts.userService:
		runAs = "you"
	case runAs == "" && opts.goos == "windows":
		runAs = "LocalSystem"
	case runAs == "":
		runAs = "root"
	}
	fmt.Fprintf(a.stdout, "Installed %s as a %s service, enabled at boot; it runs as %s:\n  %s %s\n",
		opts.name, s.Platform(), runAs, exe, strings.Join(sc.Arguments, " "))
	fmt.Fprintf(a.stdout, "Start it with: %s\n", serviceCommandHint(opts, "start"))
	return nil
}

// installWarnings lists what would keep the installed service from working.
func installWarnings(opts serviceOptions, cfg *config.Config) []string {
	var ws []string
	if opts.goos == "linux" && !opts.userService {
		cred := packaging.CredentialPath(opts.name)
		if cfg.API.TokenFile != packaging.TokenSource && cfg.API.TokenFile != cred {
			ws = append(ws, fmt.Sprintf("the service reads its API token as a systemd credential loaded from %s: set token_file = %q under [api] in %s, so that commands run outside the service read the same token",
				packaging.TokenSource, packaging.TokenSource, opts.config))
		}
		for _, dir := range []string{"/lib/systemd/system", "/usr/lib/systemd/system"} {
			if p := filepath.Join(dir, opts.name+".service"); fileExists(p) {
				ws = append(ws, fmt.Sprintf("the focussync package already ships %s (enable it with: sudo systemctl enable --now %s); the unit installed now, in /etc/systemd/system, takes its place", p, opts.name))
				break
			}
		}
		if !fileExists(packaging.TokenSource) {
			ws = append(ws, fmt.Sprintf("%s does not exist: the service will not start until it holds the API token (sudo install -m 0600 /dev/null %s, then write the token into it)",
				packaging.TokenSource, packaging.TokenSource))
		}
	}
	if opts.goos == "linux" && opts.userService {
		ws = append(ws, "a per-user service stops when you log out unless lingering is on: loginctl enable-linger")
	}
	if opts.goos == "windows" {
		ws = append(ws, windowsFolderWarnings(opts.folders, opts.user)...)
	}
	return ws
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// windowsFolderWarnings warns about folders a Windows service cannot see:
// drive letters mapped in a user's logon session do not exist for services,
// and LocalSystem has no credentials for network shares.
func windowsFolderWarnings(folders []string, account string) []string {
	var ws []string
	for _, f := range folders {
		if len(f) >= 2 && f[1] == ':' && !strings.EqualFold(f[:1], "C") {
			ws = append(ws, fmt.Sprintf("folder %s is on drive %s: if that is a mapped network drive the service cannot see it; use the UNC path (\\\\server\\share\\...) and --user with an account that can read the share", f, f[:2]))
		}
		if strings.HasPrefix(f, `\\`) && account == "" {
			ws = append(ws, fmt.Sprintf("folder %s is a network share: LocalSystem has no credentials for it; install with --user DOMAIN\\account", f))
		}
	}
	return ws
}

// windowsBuiltinAccount reports whether account is a Windows account that
// needs no password: a built-in service account or a group managed service
// account (DOMAIN\name$).
func windowsBuiltinAccount(account string) bool {
	a := strings.ToLower(account)
	return a == "localsystem" || strings.HasPrefix(a, `nt authority\`) || strings.HasPrefix(a, `nt service\`) ||
		strings.HasSuffix(a, "$")
}

// windowsPassword returns the password of a Windows account from the
// environment, or asks for it on the terminal.
func windowsPassword(a *app, account string) (string, error) {
	if p := os.Getenv(windowsPasswordEnv); p != "" {
		return p, nil
	}
	fd := int(os.Stdin.Fd())
	if !term.IsTerminal(fd) {
		return "", fmt.Errorf("the password of %s is needed: set %s or run on a terminal", account, windowsPasswordEnv)
	}
	fmt.Fprintf(a.stderr, "Password of %s: ", account)
	b, err := term.ReadPassword(fd)
	fmt.Fprintln(a.stderr)
	if err != nil {
		return "", fmt.Errorf("read the password of %s: %w", account, err)
	}
	return string(b), nil
}

// executablePath returns the absolute path of this binary, symlinks resolved.
func executablePath() (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("find the focussync binary: %w", err)
	}
	if exe, err = filepath.EvalSymlinks(exe); err != nil {
		return "", fmt.Errorf("find the focussync binary: %w", err)
	}
	if exe, err = filepath.Abs(exe); err != nil {
		return "", fmt.Errorf("find the focussync binary: %w", err)
	}
	if strings.Contains(exe, "go-build") {
		return "", fmt.Errorf("%s is a temporary binary from 'go run': build focussync, put it in place (e.g. /usr/local/bin) and install from there", exe)
	}
	return exe, nil
}

// isAbsFor reports whether p is an absolute path on goos.
func isAbsFor(goos, p string) bool {
	if goos == "windows" {
		return strings.HasPrefix(p, `\\`) || (len(p) >= 3 && p[1] == ':' && (p[2] == '\\' || p[2] == '/'))
	}
	return strings.HasPrefix(p, "/")
}

// serviceConfig builds the kardianos/service configuration that installs exe
// as the service described by opts. Option values have the exact Go types the
// library asserts (an int64 where it wants int is silently ignored).
//
// RunWait is not set: on Linux and macOS the service manager starts `focussync
// run` as a plain process, which handles SIGTERM and SIGHUP itself and never
// calls Service.Run; on Windows runUnderServiceManager uses Service.Run, which
// waits for the Service Control Manager's stop request rather than RunWait.
func serviceConfig(opts serviceOptions, exe string) (*service.Config, error) {
	if !serviceNameRE.MatchString(opts.name) {
		return nil, fmt.Errorf("service name %q: use letters, digits and _.@- only", opts.name)
	}
	if !isAbsFor(opts.goos, exe) {
		return nil, fmt.Errorf("executable %q is not an absolute path", exe)
	}
	if !isAbsFor(opts.goos, opts.config) {
		return nil, fmt.Errorf("config %q is not an absolute path", opts.config)
	}
	if opts.userService && (opts.user != "" || opts.goos == "windows") {
		return nil, errors.New("a per-user service runs as the installing user, and exists on Linux and macOS only")
	}
	c := &service.Config{
		Name:        opts.name,
		DisplayName: opts.name,
		Description: packaging.DefaultDescription,
		Executable:  exe,
		Arguments:   []string{"run", "--config", opts.config},
		UserName:    opts.user,
		Option:      service.KeyValue{},
	}
	switch opts.goos {
	case "windows":
		// The SMB client: folders on shares are readable once it runs.
		c.Dependencies = []string{"LanmanWorkstation"}
		c.Option["StartType"] = "automatic"
		c.Option["DelayedAutoStart"] = true
		c.Option["OnFailure"] = "restart"
		c.Option["OnFailureDelayDuration"] = "5s"
		c.Option["OnFailureResetPeriod"] = 60
		if opts.password != "" {
			c.Option["Password"] = opts.password
		}
	case "darwin":
		if !opts.userService && c.UserName == "" {
			c.UserName = packaging.MacUser
		}
		c.Option["UserService"] = opts.userService
		c.Option["RunAtLoad"] = true
		c.Option["KeepAlive"] = true
		plist := packaging.LaunchdPlist(packaging.PlistParams{
			Label: opts.name, Exe: exe, Config: opts.config,
			UserName: c.UserName, UserAgent: opts.userService, Home: opts.home,
		})
		if strings.Contains(plist, "{{") {
			return nil, errors.New(`a path contains "{{", which the service library cannot write: rename it`)
		}
		c.Option["LaunchdConfig"] = plist
	default:
		if !opts.userService && c.UserName == "" {
			c.UserName = packaging.DefaultUser
		}
		c.Dependencies = []string{"After=network-online.target remote-fs.target", "Wants=network-online.target"}
		c.Option["UserService"] = opts.userService
		c.Option["Restart"] = "on-failure"
		// The library's own unit hard-codes RestartSec=120 and puts start
		// limits in [Service]; ours is rendered in full, so the library's
		// template engine finds no actions in it.
		unit := packaging.SystemdUnit(packaging.UnitParams{
			Name: opts.name, Exe: exe, Config: opts.config, User: c.UserName,
			UserService: opts.userService, FolderPaths: opts.leaseFolders,
		})
		if strings.Contains(unit, "{{") {
			return nil, errors.New(`a path contains "{{", which the service library cannot write: rename it`)
		}
		c.Option["SystemdScript"] = unit
	}
	return c, nil
}

// controlConfig is the configuration that finds an installed service.
func controlConfig(opts serviceOptions) *service.Config {
	return &service.Config{
		Name:        opts.name,
		DisplayName: opts.name,
		Option:      service.KeyValue{"UserService": opts.userService},
	}
}

// controlService runs uninstall, start, stop, restart or status.
func controlService(ctx context.Context, a *app, opts serviceOptions) error {
	if p := service.Platform(); opts.action == "status" && opts.goos == "linux" && p != "linux-systemd" {
		// focussync installs itself under systemd only (installService).
		fmt.Fprintf(a.stdout, "not installed (this system's service manager is %s; focussync installs itself under systemd only)\n", p)
		return exitError{code: exitNotInstalled}
	}
	s, err := service.New(noopProgram{}, controlConfig(opts))
	if err != nil {
		return fmt.Errorf("%s: %w", opts.action, err)
	}
	return doServiceAction(ctx, s, opts, a.stdout)
}

// doServiceAction performs a control action on an installed service s and
// reports the outcome on w in plain words.
func doServiceAction(ctx context.Context, s service.Service, opts serviceOptions, w io.Writer) error {
	st, stErr := s.Status()
	if opts.action == "status" {
		switch {
		case errors.Is(stErr, service.ErrNotInstalled):
			fmt.Fprintln(w, "not installed")
			return exitError{code: exitNotInstalled}
		case stErr != nil && strings.Contains(stErr.Error(), "failed state"):
			fmt.Fprintln(w, "failed")
			return exitError{code: exitStopped}
		case stErr != nil:
			// LSB: 4 is "status unknown". The reason goes to the same line.
			fmt.Fprintf(w, "unknown: %v\n", explainServiceError(opts, stErr))
			return exitError{code: exitNotInstalled}
		case st == service.StatusRunning:
			fmt.Fprintln(w, "running")
			return nil
		default:
			fmt.Fprintln(w, "stopped")
			return exitError{code: exitStopped}
		}
	}
	if errors.Is(stErr, service.ErrNotInstalled) {
		return explainServiceError(opts, stErr)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	var err error
	switch opts.action {
	case "start":
		err = s.Start()
	case "stop":
		err = s.Stop()
	case "restart":
		err = s.Restart()
	case "uninstall":
		// Removing the unit does not stop a running service.
		if st == service.StatusRunning {
			if err = s.Stop(); err != nil {
				return explainServiceError(opts, err)
			}
		}
		err = s.Uninstall()
	}
	if err != nil {
		return explainServiceError(opts, err)
	}
	switch opts.action {
	case "uninstall":
		fmt.Fprintf(w, "Uninstalled the %s service. The configuration file, the token and the state database were left in place: delete them by hand if they are no longer needed.\n", opts.name)
	default:
		past := map[string]string{"start": "Started", "stop": "Stopped", "restart": "Restarted"}[opts.action]
		fmt.Fprintf(w, "%s %s.\n", past, opts.name)
	}
	return nil
}

// explainServiceError turns a service manager's error into plain words,
// keeping the original text for reference.
func explainServiceError(opts serviceOptions, err error) error {
	msg := strings.ToLower(err.Error())
	missingTool := strings.Contains(msg, "executable file not found")
	switch {
	case errors.Is(err, service.ErrNotInstalled), !missingTool && (errors.Is(err, fs.ErrNotExist) ||
		strings.Contains(msg, "not installed") || strings.Contains(msg, "does not exist") ||
		strings.Contains(msg, "not found") || strings.Contains(msg, "not loaded")):
		return fmt.Errorf("%s is not installed as a service: install it with '%s'", opts.name,
			serviceCommandHint(opts, "install --config FILE"))
	case strings.Contains(msg, "already exists"):
		return fmt.Errorf("%s is already installed: run '%s' first", opts.name, serviceCommandHint(opts, "uninstall"))
	case errors.Is(err, fs.ErrPermission), strings.Contains(msg, "permission denied"),
		strings.Contains(msg, "access denied"), strings.Contains(msg, "access is denied"),
		strings.Contains(msg, "authentication required"), strings.Contains(msg, "operation not permitted"):
		how := "needs root: run with sudo"
		if opts.goos == "windows" {
			how = "needs an Administrator: run it from an elevated prompt"
		}
		return fmt.Errorf("%s %s %s (%v)", opts.action, opts.name, how, err)
	}
	return fmt.Errorf("%s %s: %w", opts.action, opts.name, err)
}

// serviceCommandHint spells the `focussync service` command for action with
// the flags that select the same service.
func serviceCommandHint(opts serviceOptions, action string) string {
	cmd := "focussync service " + action
	if opts.name != packaging.DefaultName {
		cmd += " --name " + opts.name
	}
	if opts.userService {
		cmd += " --user-service"
	} else if opts.goos != "windows" {
		cmd = "sudo " + cmd
	}
	return cmd
}

// noopProgram is the program given to the service library to install or
// control a service: those calls never run it.
type noopProgram struct{}

func (noopProgram) Start(service.Service) error { return nil }
func (noopProgram) Stop(service.Service) error  { return nil }

// runUnderServiceManager runs run as a Windows service when the Service
// Control Manager started this process: Start launches run, a stop request
// cancels its context and waits for it to return. Everywhere else it returns
// handled == false at once: systemd and launchd start `focussync run` as a
// plain process that handles its signals itself.
func runUnderServiceManager(run func(ctx context.Context) error) (handled bool, err error) {
	if runtime.GOOS != "windows" || service.Interactive() {
		return false, nil
	}
	p := newServiceProgram(run)
	s, err := service.New(p, &service.Config{Name: packaging.DefaultName})
	if err != nil {
		return true, fmt.Errorf("run as a Windows service: %w", err)
	}
	if l, lerr := s.Logger(nil); lerr == nil {
		p.report = func(err error) { _ = l.Error(err) }
	}
	if err := s.Run(); err != nil {
		return true, err
	}
	return true, p.result()
}

// serviceProgram adapts a run function to the service library's Start/Stop.
type serviceProgram struct {
	run         func(ctx context.Context) error
	stopTimeout time.Duration   // how long Stop waits for run to return
	exit        func(code int)  // ends the process when run returns by itself
	report      func(err error) // logs why run returned by itself

	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
	err    error
}

func newServiceProgram(run func(ctx context.Context) error) *serviceProgram {
	return &serviceProgram{run: run, stopTimeout: 25 * time.Second, exit: os.Exit, report: func(error) {}}
}

// Start launches run in a goroutine. If run returns before Stop was called,
// the process exits with status 1 so that the service manager's recovery
// action (restart after 5 s) applies.
func (p *serviceProgram) Start(service.Service) error {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	p.mu.Lock()
	p.cancel, p.done = cancel, done
	p.mu.Unlock()
	go func() {
		err := p.run(ctx)
		p.mu.Lock()
		p.err = err
		p.mu.Unlock()
		close(done)
		if ctx.Err() == nil {
			if err == nil {
				err = errors.New("focussync run returned without being stopped")
			}
			p.report(err)
			p.exit(1)
		}
	}()
	return nil
}

// Stop cancels run's context and waits for run to return.
func (p *serviceProgram) Stop(service.Service) error {
	p.mu.Lock()
	cancel, done := p.cancel, p.done
	p.mu.Unlock()
	if cancel == nil {
		return nil
	}
	cancel()
	select {
	case <-done:
		return nil
	case <-time.After(p.stopTimeout):
		return fmt.Errorf("focussync did not stop within %s", p.stopTimeout)
	}
}

// result is the error run returned, once it has.
func (p *serviceProgram) result() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}
