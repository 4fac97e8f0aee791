package focus

import "time"

// DefaultBaseURL is the address of the Focus API.
const DefaultBaseURL = "https://focus.toggl.com/api"

// MaxBulkFiles is the most files one bulk create accepts.
const MaxBulkFiles = 10

// Task names one task: the organization and workspace it lives in and its id.
type Task struct {
	OrganizationID int64
	WorkspaceID    int64
	TaskID         int64
}

// Attachment is a task attachment as the API reports it.
type Attachment struct {
	ID           int64      `json:"id"`
	TaskID       int64      `json:"task_id"`
	Name         string     `json:"name"`
	Size         int64      `json:"size"`
	MimeType     string     `json:"mime_type"`
	DisplayOrder int64      `json:"display_order"`
	CreatedAt    time.Time  `json:"created_at"`
	UpdatedAt    time.Time  `json:"updated_at"`
	DeletedAt    *time.Time `json:"deleted_at,omitempty"`
}

// Deleted reports whether the attachment was soft-deleted.
func (a Attachment) Deleted() bool { return a.DeletedAt != nil && !a.DeletedAt.IsZero() }

// Upload is one file to send in a create or bulk create. Exactly Size bytes are
// sent (Content-Length is computed ahead), streamed from the file as the request
// goes out.
//
// The file is opened without following a symlink and without blocking
// (internal/safefs): with Root set, Path is relative to Root ('/'-separated) and
// no component of it may be a symlink; without Root, Path is a local path whose
// last component may not be one. What is opened must be a regular file, with
// Device and Inode when they are set, and Size bytes; the bytes sent must have the
// SHA-256 of Hash when it is set, and the file must still have ModTime and Size
// once its last byte is read when ModTime is set. A file that fails any of these
// fails the request before its body ends, so the server stores nothing: with an
// error wrapping ErrNotScanned (a symlink, a FIFO, a device, another file or other
// content than was scanned) or ErrFileChanged (another size, or written to while
// it was sent).
//
// A file that was not hashed beforehand is hashed while it is sent: with Sum set,
// Create and BulkCreate store there the SHA-256 of the bytes sent once the file
// was read to its end and passed the checks (also when the server then refused
// the request), so each file is read once.
type Upload struct {
	Root         string    // the folder Path is relative to; "" when Path is a local path
	Path         string    // the file to stream
	Size         int64     // bytes to send
	Device       uint64    // st_dev the file must have; 0: not checked
	Inode        uint64    // inode the file must have; 0: not checked
	Hash         string    // hex SHA-256 the sent bytes must have; "": not checked
	ModTime      time.Time // mtime the file must still have once read; zero: not checked
	Sum          *string   // receives the hex SHA-256 of the bytes sent; nil: not asked
	Name         string    // attachment name
	DisplayOrder int64
	ContentType  string // part Content-Type; detected from Name when empty
}

// Endpoint names one of the six API operations, as used in errors, metrics and the
// emulator's request log and fault knobs.
type Endpoint string

// The six endpoints.
const (
	EndpointList   Endpoint = "list"
	EndpointCreate Endpoint = "create"
	EndpointBulk   Endpoint = "bulk"
	EndpointUpdate Endpoint = "update"
	EndpointDelete Endpoint = "delete"
	EndpointView   Endpoint = "view"
)

// Write reports whether the endpoint changes data on the server.
func (e Endpoint) Write() bool {
	switch e {
	case EndpointCreate, EndpointBulk, EndpointUpdate, EndpointDelete:
		return true
	}
	return false
}
