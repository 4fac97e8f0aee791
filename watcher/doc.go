// Package watcher is the local side of a folder: Scan walks it into a Snapshot
// (the files in scope with their stat and content hash, and the files held
// back, with why: still changing, too large, unreadable), and Watch tells when
// it may have changed, from fsnotify events or by polling (network and FUSE
// filesystems), marking the folder for a rescan whenever events may have been
// lost.
package watcher
