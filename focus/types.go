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

// Upload is one file to send in a create or bulk create. The body is read from Path;
// exactly Size bytes are sent (Content-Length is computed ahead), and a file that no
// longer has Size bytes fails the request with ErrFileChanged.
type Upload struct {
	Path         string // local file to stream
	Size         int64  // bytes to send
	Name         string // attachment name
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
