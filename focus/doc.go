// Package focus is the client of the Toggl Focus task-attachments API: its six
// endpoints (list, create, bulk create, update, delete, view), the API token,
// the quota headers of every response (Quota, one per organization), and one
// typed *Error for every failed request, whose Kind says what went wrong and
// whose Ambiguous says whether a create may have been stored all the same.
// Uploads stream exactly the bytes that were scanned, from inside the folder.
//
// The client sends each request once: when to send, whether to send again and
// what a failure means for a pass is decided by its caller (syncer's Pacer).
package focus
