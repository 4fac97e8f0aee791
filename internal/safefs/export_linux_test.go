package safefs

func init() {
	forceWalk = func() (restore func()) {
		old := noOpenat2.Load()
		noOpenat2.Store(true)
		return func() { noOpenat2.Store(old) }
	}
}
