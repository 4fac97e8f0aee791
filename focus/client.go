package focus

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// DefaultStallTimeout is how long a request may move no bytes before it fails.
const DefaultStallTimeout = 60 * time.Second

// maxResponse bounds the bytes read from one response body; maxListResponse
// that of a task's listing, which grows with the task (about 400 bytes an
// attachment: a million attachments fit).
// Tests lower them.
var (
	maxResponse     int64 = 64 << 20
	maxListResponse int64 = 1 << 30
)

// Options configures a Client. The zero value of every field has a default.
type Options struct {
	// BaseURL is the API root, DefaultBaseURL when empty; a trailing slash is fine.
	BaseURL string
	// Token is the bearer token; SetToken replaces it later.
	Token string
	// UserAgent is sent with every request, e.g. "focussync/1.2.3 (linux/amd64)";
	// "focussync" when empty.
	UserAgent string
	// HTTPClient sends the requests. The default has dial, TLS handshake and
	// response header timeouts, follows no redirects, has no overall timeout and
	// applies StallTimeout to its connections. A client given here is used as it is:
	// StallTimeout does not apply to it.
	HTTPClient *http.Client
	// StallTimeout fails a request whose connection moves no bytes, in either
	// direction, for this long (DefaultStallTimeout when zero). An upload that keeps
	// moving is never cut short, however long it takes.
	StallTimeout time.Duration
	// Now is the clock used for quota and Retry-After arithmetic; time.Now when nil.
	Now func() time.Time
}

// Client calls the Focus task attachment API. It is safe for concurrent use.
type Client struct {
	base      string // without a trailing slash
	userAgent string
	hc        *http.Client
	now       func() time.Time
	stall     time.Duration // 0 with a caller's HTTPClient

	mu     sync.Mutex
	token  string
	quotas map[int64]*Quota
}

// New returns a Client, or an error when BaseURL is not an absolute http or https URL.
func New(opts Options) (*Client, error) {
	base := opts.BaseURL
	if base == "" {
		base = DefaultBaseURL
	}
	u, err := url.Parse(base)
	if err != nil {
		return nil, fmt.Errorf("focus base URL %q: %w", base, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("focus base URL %q: want http:// or https:// and a host", base)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, fmt.Errorf("focus base URL %q: must not carry a query, fragment or user", base)
	}
	c := &Client{
		base:      strings.TrimRight(u.String(), "/"),
		userAgent: opts.UserAgent,
		hc:        opts.HTTPClient,
		now:       opts.Now,
		token:     opts.Token,
		quotas:    make(map[int64]*Quota),
	}
	if c.hc == nil {
		stall := opts.StallTimeout
		if stall <= 0 {
			stall = DefaultStallTimeout
		}
		c.hc = newHTTPClient(stall)
		c.stall = stall
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.userAgent == "" {
		c.userAgent = "focussync"
	}
	return c, nil
}

// SetToken replaces the bearer token for the requests that follow.
func (c *Client) SetToken(tok string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.token = tok
}

func (c *Client) currentToken() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.token
}

// Quota returns the quota view of an organization. Every call for the same
// organization returns the same *Quota, and every response updates it.
func (c *Client) Quota(org int64) *Quota {
	c.mu.Lock()
	defer c.mu.Unlock()
	q := c.quotas[org]
	if q == nil {
		q = &Quota{}
		c.quotas[org] = q
	}
	return q
}

// CloseIdleConnections closes the HTTP client's idle connections.
func (c *Client) CloseIdleConnections() { c.hc.CloseIdleConnections() }

// List returns the attachments of a task ordered by display order. Soft-deleted
// attachments are included when the server reports them (see Attachment.Deleted
// and ListLive).
func (c *Client) List(ctx context.Context, t Task) ([]Attachment, error) {
	rq := request{op: fmt.Sprintf("list task %d", t.TaskID), ep: EndpointList, task: t,
		method: http.MethodGet, path: "", query: "order_by=display_order"}
	body, err := c.do(ctx, &rq)
	if err != nil {
		return nil, err
	}
	as, err := ParseList(body)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", rq.op, err)
	}
	return as, nil
}

// ListLive is List without the soft-deleted attachments.
func (c *Client) ListLive(ctx context.Context, t Task) ([]Attachment, error) {
	as, err := c.List(ctx, t)
	if err != nil {
		return nil, err
	}
	live := as[:0]
	for _, a := range as {
		if !a.Deleted() {
			live = append(live, a)
		}
	}
	return live, nil
}

// Create uploads one file as a new attachment of t.
//
// A failed request is an *Error; it is Ambiguous (the attachment may exist: list
// the task before retrying) after a 5xx answer, or a transport failure or timeout
// once body bytes were handed to the connection. A refused dial or a failure
// before the body is not ambiguous. Create may also return an error wrapping
// ErrFileChanged (the file no longer has u.Size bytes; the body was cut short of
// its Content-Length, so nothing was stored), an error naming a file that could
// not be read, or an error wrapping ErrIDsUnknown (the attachment was created but
// the response did not say its id: list the task to learn it).
func (c *Client) Create(ctx context.Context, t Task, u Upload) (Attachment, error) {
	op := fmt.Sprintf("create task %d (%q)", t.TaskID, u.Name)
	b := newBodyBuilder()
	b.field("name", u.Name)
	b.field("display_order", strconv.FormatInt(u.DisplayOrder, 10))
	if err := addFile(b, "file", &u); err != nil {
		return Attachment{}, fmt.Errorf("%s: %w", op, err)
	}
	as, err := c.upload(ctx, op, EndpointCreate, t, "", b.finish(), 1)
	if err != nil {
		return Attachment{}, err
	}
	return as[0], nil
}

// BulkCreate uploads 1 to MaxBulkFiles files in one request; the server stores all
// of them or none. The attachments are returned in the order of us. Its errors
// are those of Create; ErrIDsUnknown is also returned when the response holds a
// different number of attachments than were sent.
func (c *Client) BulkCreate(ctx context.Context, t Task, us []Upload) ([]Attachment, error) {
	op := fmt.Sprintf("bulk create task %d (%d files)", t.TaskID, len(us))
	if len(us) == 0 || len(us) > MaxBulkFiles {
		return nil, fmt.Errorf("%s: a bulk create takes 1 to %d files", op, MaxBulkFiles)
	}
	us = append([]Upload(nil), us...)
	b := newBodyBuilder()
	for i, u := range us {
		b.field(fmt.Sprintf("names[%d]", i), u.Name)
		b.field(fmt.Sprintf("display_orders[%d]", i), strconv.FormatInt(u.DisplayOrder, 10))
	}
	for i := range us {
		if err := addFile(b, "files", &us[i]); err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
	}
	as, err := c.upload(ctx, op, EndpointBulk, t, "/bulk", b.finish(), len(us))
	if err != nil {
		return nil, err
	}
	return inUploadOrder(us, as), nil
}

// inUploadOrder returns as in the order of us when the names tell which is which
// (every upload name distinct and found once in as); otherwise as it is, in the
// server's order.
func inUploadOrder(us []Upload, as []Attachment) []Attachment {
	byName := make(map[string]int, len(as))
	for i, a := range as {
		if _, dup := byName[a.Name]; dup {
			return as
		}
		byName[a.Name] = i
	}
	out := make([]Attachment, 0, len(us))
	for _, u := range us {
		i, ok := byName[u.Name]
		if !ok {
			return as
		}
		delete(byName, u.Name)
		out = append(out, as[i])
	}
	return out
}

// addFile checks u and adds it to b.
func addFile(b *bodyBuilder, field string, u *Upload) error {
	if u.Size < 0 {
		return fmt.Errorf("%s: negative size %d", u.Path, u.Size)
	}
	if u.Name == "" {
		return fmt.Errorf("%s: empty attachment name", u.Path)
	}
	ct, err := uploadContentType(u)
	if err != nil {
		return err
	}
	b.file(field, u, ct)
	return nil
}

// upload sends a create or bulk create and parses the created attachments.
func (c *Client) upload(ctx context.Context, op string, ep Endpoint, t Task, suffix string, mb *multipartBody, want int) ([]Attachment, error) {
	rq := request{op: op, ep: ep, task: t, method: http.MethodPost, path: suffix, multipart: mb}
	body, err := c.do(ctx, &rq)
	// Also when the server refused the files: a refused file's hash tells
	// whether it changed before it is sent again.
	rq.state.publishSums(mb)
	if err != nil {
		return nil, err
	}
	as, err := ParseCreated(body)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	if len(as) != want {
		return nil, fmt.Errorf("%s: the response lists %d attachments for %d files: %w", op, len(as), want, ErrIDsUnknown)
	}
	return as, nil
}

// Update renames and reorders an attachment. Both fields are always sent.
func (c *Client) Update(ctx context.Context, t Task, id int64, name string, displayOrder int64) error {
	payload, err := json.Marshal(struct {
		Name         string `json:"name"`
		DisplayOrder int64  `json:"display_order"`
	}{name, displayOrder})
	if err != nil {
		return fmt.Errorf("update attachment %d of task %d: %w", id, t.TaskID, err)
	}
	rq := request{op: fmt.Sprintf("update attachment %d of task %d", id, t.TaskID), ep: EndpointUpdate, task: t,
		method: http.MethodPut, path: "/" + strconv.FormatInt(id, 10), json: payload}
	_, err = c.do(ctx, &rq)
	return err
}

// Delete deletes an attachment.
func (c *Client) Delete(ctx context.Context, t Task, id int64) error {
	rq := request{op: fmt.Sprintf("delete attachment %d of task %d", id, t.TaskID), ep: EndpointDelete, task: t,
		method: http.MethodDelete, path: "/" + strconv.FormatInt(id, 10)}
	_, err := c.do(ctx, &rq)
	return err
}

// View returns one attachment.
func (c *Client) View(ctx context.Context, t Task, id int64) (Attachment, error) {
	rq := request{op: fmt.Sprintf("view attachment %d of task %d", id, t.TaskID), ep: EndpointView, task: t,
		method: http.MethodGet, path: "/" + strconv.FormatInt(id, 10) + "/view"}
	body, err := c.do(ctx, &rq)
	if err != nil {
		return Attachment{}, err
	}
	a, err := parseOne(body)
	if err != nil {
		return Attachment{}, fmt.Errorf("%s: %w", rq.op, err)
	}
	return a, nil
}

// request is one API call.
type request struct {
	op        string
	ep        Endpoint
	task      Task
	method    string
	path      string // after .../attachments
	query     string
	json      []byte
	multipart *multipartBody

	state sendState // filled in while sending a multipart body
}

func (c *Client) url(rq *request) string {
	t := rq.task
	s := fmt.Sprintf("%s/organizations/%d/workspaces/%d/tasks/%d/attachments%s",
		c.base, t.OrganizationID, t.WorkspaceID, t.TaskID, rq.path)
	if rq.query != "" {
		s += "?" + rq.query
	}
	return s
}

// do sends rq and returns the body of a 2xx response. Any other outcome is an
// *Error, or a plain error for a local failure (a bad task, an unreadable or
// changed file).
func (c *Client) do(ctx context.Context, rq *request) ([]byte, error) {
	t := rq.task
	if t.OrganizationID <= 0 || t.WorkspaceID <= 0 || t.TaskID <= 0 {
		return nil, fmt.Errorf("%s: organization, workspace and task ids must be positive (got %d, %d, %d)",
			rq.op, t.OrganizationID, t.WorkspaceID, t.TaskID)
	}
	var body io.Reader
	if rq.json != nil {
		body = bytes.NewReader(rq.json)
	}
	req, err := http.NewRequestWithContext(ctx, rq.method, c.url(rq), body)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", rq.op, err)
	}
	switch {
	case rq.multipart != nil:
		mb := rq.multipart
		req.Body = mb.reader(&rq.state)
		req.GetBody = func() (io.ReadCloser, error) { return mb.reader(&rq.state), nil }
		req.ContentLength = mb.length
		req.Header.Set("Content-Type", mb.contentType)
	case rq.json != nil:
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.userAgent)
	tok := c.currentToken()
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}

	resp, err := c.hc.Do(req)
	if err != nil {
		if lerr := rq.state.localErr(); lerr != nil {
			return nil, fmt.Errorf("%s: %w", rq.op, lerr)
		}
		return nil, c.classify(rq, nil, nil, err, tok)
	}
	defer resp.Body.Close()
	c.observeQuota(t.OrganizationID, resp)
	limit := maxResponse
	if rq.ep == EndpointList {
		limit = maxListResponse
	}
	data, rerr := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	tooLarge := rerr == nil && int64(len(data)) > limit
	if tooLarge {
		data, rerr = nil, fmt.Errorf("the response is larger than %d MiB, more than focussync reads", limit>>20)
	}
	if resp.StatusCode/100 == 2 {
		if rerr != nil {
			if rq.multipart != nil {
				// The server answered that it created the attachments; only
				// their ids are lost with the rest of the body.
				return nil, nil
			}
			if tooLarge {
				// Sending it again would bring the same answer: not a transport
				// failure to retry.
				return nil, fmt.Errorf("%s: %w", rq.op, rerr)
			}
			return nil, c.classify(rq, nil, nil, rerr, tok)
		}
		return data, nil
	}
	return nil, c.classify(rq, resp, data, nil, tok)
}
