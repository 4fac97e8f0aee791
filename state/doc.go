// Package state is focussync's memory of what it put in Focus: a bbolt database
// holding, per folder and task, one record per local file (the stat and hash it was
// uploaded from and the attachment it became), the folder's meta, and a journal of
// writes in flight (intents).
//
// A Store is opened by one process at a time (Open fails fast with ErrLocked while
// another holds it). Every Commit is one transaction, durable when it returns.
// Values are stored in a compact binary form that keeps non-UTF-8 paths and names
// byte for byte; the layout carries a schema version and Open migrates older files.
package state
