package packaging

// Paths of the files installed by the packages (.deb, .rpm) and by the
// committed launchd property list.
const (
	PackageExe    = "/usr/bin/focussync"
	PackageConfig = "/etc/focussync/config.toml"
	MacExe        = "/usr/local/bin/focussync"
	MacConfig     = "/usr/local/etc/focussync/config.toml"
)

// PackageUnitParams returns the parameters of the unit shipped in the .deb
// and .rpm packages (packaging/focussync.service).
func PackageUnitParams() UnitParams {
	return UnitParams{Name: DefaultName, Exe: PackageExe, Config: PackageConfig, User: DefaultUser, Group: DefaultUser}
}

// MacPlistParams returns the parameters of the committed LaunchDaemon
// (packaging/focussync.plist).
func MacPlistParams() PlistParams {
	return PlistParams{Label: DefaultName, Exe: MacExe, Config: MacConfig}
}

// Files returns the committed files rendered from this package, by file
// name relative to the packaging directory.
func Files() map[string]string {
	return map[string]string{
		"focussync.service": SystemdUnit(PackageUnitParams()),
		"focussync.plist":   LaunchdPlist(MacPlistParams()),
		// newsyslog(8) on macOS: /etc/newsyslog.d/focussync.conf
		"focussync.newsyslog.conf": NewsyslogConf(MacPlistParams()),
	}
}
