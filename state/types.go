package state

import "time"

// FolderKey identifies one folder's records: the folder path and the task it maps to,
// so that a folder mapped to another task does not inherit stale records.
type FolderKey struct {
	Path   string // absolute, cleaned folder path
	TaskID int64
}

// FileRecord is what the store knows of one local file: the local stat and hash the
// attachment was made from, and the attachment it became. A record with
// AttachmentID 0 holds only a refusal (a file the server would not take).
//
// Paths may hold bytes that are not UTF-8; the store keeps them exactly.
type FileRecord struct {
	Path    string    // path relative to the folder root, with '/'
	Size    int64     // local size when uploaded (or adopted)
	ModTime time.Time // local mtime when uploaded
	Inode   uint64    // local inode when uploaded (0 where the OS has none)
	Hash    string    // hex SHA-256 of the uploaded content; "" for an adopted file not yet hashed

	AttachmentID int64  // the managed attachment; 0 when none
	RemoteName   string // the attachment's name in Focus
	DisplayOrder int64  // the attachment's display order in Focus

	// Refused, when not nil, is the content the server refused (400): the file is
	// not sent again until its content changes.
	Refused *Refusal
}

// Refusal is the server's refusal (400) of one content of a file. Refusals are
// rare, and a record holds one by pointer: that keeps a record within the 128
// bytes that a map of records holds in its own table, rather than in an object
// of its own per record, which a folder of a million files would make a million
// objects for the garbage collector to visit.
type Refusal struct {
	Hash      string // hex SHA-256 of the content refused
	LastError string // why
	Attempts  int    // failures so far
}

// Managed reports whether the record owns an attachment.
func (r FileRecord) Managed() bool { return r.AttachmentID != 0 }

// RefusedHash is the hash of the content the server refused; "" when none was.
func (r FileRecord) RefusedHash() string {
	if r.Refused == nil {
		return ""
	}
	return r.Refused.Hash
}

// Meta is per-folder bookkeeping.
type Meta struct {
	Device     uint64    // device id of the folder root when first synced; 0 unknown
	Listed     bool      // the task was listed once and matching attachments adopted
	LastPass   time.Time // end of the last completed pass
	LastVerify time.Time // last remote verification list
	LastError  string
}

// IntentOp is the kind of write an intent journals.
type IntentOp string

// The journaled writes.
const (
	IntentCreate IntentOp = "create" // create or bulk create
	IntentUpdate IntentOp = "update"
	IntentDelete IntentOp = "delete"
)

// IntentFile is one file of a create intent.
type IntentFile struct {
	Path         string
	Name         string
	Size         int64
	Hash         string
	ModTime      time.Time
	Inode        uint64
	DisplayOrder int64
	Replaces     int64 // attachment id of the old version, deleted after the upload
}

// Intent is a write journaled before it is sent and ended after its outcome is
// recorded. An intent still open at start-up means the process stopped mid-request:
// the outcome is unknown until the task is listed.
type Intent struct {
	ID           uint64 // assigned by the store
	Op           IntentOp
	Started      time.Time
	Files        []IntentFile // create
	AttachmentID int64        // update, delete
	Name         string       // update
	DisplayOrder int64        // update
}

// Folder is everything the store holds for one folder.
type Folder struct {
	Key   FolderKey
	Meta  Meta
	Files map[string]FileRecord // by Path
	// Paths are the keys of Files in path order, as Load read them (bytewise, as
	// Go compares strings); whoever adds or removes a key of Files sets it to nil.
	Paths   []string
	Intents []Intent // open intents, oldest first
}

// Change is a set of writes applied to one folder in a single transaction.
type Change struct {
	Put        []FileRecord // insert or replace by Path
	Delete     []string     // paths to remove
	Meta       *Meta        // replace the meta when non-nil
	EndIntents []uint64     // intents to close
	Begin      []*Intent    // intents to open in the same transaction (their IDs are assigned)
}
