package safefs

// forceWalk, where set, makes Open use the per-component walk until the
// returned function is called.
var forceWalk func() (restore func())
