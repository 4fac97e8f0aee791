package focus

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// wireAttachment is an attachment as it appears on the wire. It is more lenient
// than Attachment: ids may be quoted, timestamps may be null, empty or carry no
// fractional seconds.
type wireAttachment struct {
	ID           flexInt   `json:"id"`
	TaskID       flexInt   `json:"task_id"`
	Name         string    `json:"name"`
	Size         flexInt   `json:"size"`
	MimeType     string    `json:"mime_type"`
	DisplayOrder flexInt   `json:"display_order"`
	CreatedAt    *flexTime `json:"created_at"`
	UpdatedAt    *flexTime `json:"updated_at"`
	DeletedAt    *flexTime `json:"deleted_at"`
}

func (w wireAttachment) attachment() Attachment {
	a := Attachment{
		ID:           int64(w.ID),
		TaskID:       int64(w.TaskID),
		Name:         w.Name,
		Size:         int64(w.Size),
		MimeType:     w.MimeType,
		DisplayOrder: int64(w.DisplayOrder),
	}
	if w.CreatedAt != nil {
		a.CreatedAt = time.Time(*w.CreatedAt)
	}
	if w.UpdatedAt != nil {
		a.UpdatedAt = time.Time(*w.UpdatedAt)
	}
	if w.DeletedAt != nil && !time.Time(*w.DeletedAt).IsZero() {
		t := time.Time(*w.DeletedAt)
		a.DeletedAt = &t
	}
	return a
}

// flexInt decodes a JSON number or a quoted number; null leaves it zero.
type flexInt int64

func (n *flexInt) UnmarshalJSON(b []byte) error {
	s := string(b)
	if s == "null" {
		return nil
	}
	if len(s) >= 2 && s[0] == '"' {
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return fmt.Errorf("integer %.40q: %w", s, err)
	}
	*n = flexInt(v)
	return nil
}

// flexTime decodes an RFC 3339 timestamp with or without fractional seconds;
// null and "" leave it zero.
type flexTime time.Time

func (t *flexTime) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("timestamp: %w", err)
	}
	if s == "" {
		return nil
	}
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return fmt.Errorf("timestamp %.40q: %w", s, err)
	}
	*t = flexTime(v)
	return nil
}

// ParseList decodes the body of a list response: {"items": [...]}, {"data": [...]}
// or a bare array. Soft-deleted items are kept; an empty list is not an error.
func ParseList(body []byte) ([]Attachment, error) {
	raw, err := unwrapItems(body)
	if err != nil {
		return nil, fmt.Errorf("parse attachment list: %w", err)
	}
	if raw == nil {
		return nil, errors.New("parse attachment list: no items in the response")
	}
	var ws []wireAttachment
	if err := json.Unmarshal(raw, &ws); err != nil {
		return nil, fmt.Errorf("parse attachment list: %w", err)
	}
	out := make([]Attachment, 0, len(ws))
	for i, w := range ws {
		if w.ID <= 0 {
			return nil, fmt.Errorf("parse attachment list: item %d has no valid id", i)
		}
		out = append(out, w.attachment())
	}
	return out, nil
}

// ParseCreated decodes the undocumented 201 body of a create or bulk create. It
// accepts a single attachment object, {"items": [...]}, {"data": ...} (an object or
// an array) or a bare array. When the body holds no attachments with ids (empty,
// {}, garbage, an item without an id) it returns an error wrapping ErrIDsUnknown.
func ParseCreated(body []byte) ([]Attachment, error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return nil, fmt.Errorf("empty body: %w", ErrIDsUnknown)
	}
	var ws []wireAttachment
	switch body[0] {
	case '[':
		if err := json.Unmarshal(body, &ws); err != nil {
			return nil, fmt.Errorf("%v: %w", err, ErrIDsUnknown)
		}
	case '{':
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(body, &obj); err != nil {
			return nil, fmt.Errorf("%v: %w", err, ErrIDsUnknown)
		}
		if _, ok := obj["id"]; ok {
			var w wireAttachment
			if err := json.Unmarshal(body, &w); err != nil {
				return nil, fmt.Errorf("%v: %w", err, ErrIDsUnknown)
			}
			ws = []wireAttachment{w}
			break
		}
		for _, key := range []string{"items", "data"} {
			if inner, ok := obj[key]; ok {
				return ParseCreated(inner)
			}
		}
		return nil, fmt.Errorf("object without id, items or data: %w", ErrIDsUnknown)
	default:
		return nil, fmt.Errorf("not a JSON object or array: %w", ErrIDsUnknown)
	}
	if len(ws) == 0 {
		return nil, fmt.Errorf("no attachments: %w", ErrIDsUnknown)
	}
	out := make([]Attachment, 0, len(ws))
	for i, w := range ws {
		if w.ID <= 0 {
			return nil, fmt.Errorf("item %d has no valid id: %w", i, ErrIDsUnknown)
		}
		out = append(out, w.attachment())
	}
	return out, nil
}

// parseOne decodes a single attachment: an object with an id, or {"data": {...}}.
func parseOne(body []byte) (Attachment, error) {
	as, err := ParseCreated(body)
	if err != nil || len(as) != 1 {
		return Attachment{}, errors.New("the response holds no single attachment")
	}
	return as[0], nil
}

// unwrapItems returns the JSON array inside body: body itself when it is an array,
// else the value of "items" or "data" (itself unwrapped once more). It returns nil
// when there is no array.
func unwrapItems(body []byte) (json.RawMessage, error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return nil, errors.New("empty body")
	}
	switch body[0] {
	case '[':
		return body, nil
	case '{':
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(body, &obj); err != nil {
			return nil, err
		}
		for _, key := range []string{"items", "data"} {
			inner := bytes.TrimSpace(obj[key])
			switch {
			case len(inner) == 0:
				continue
			case string(inner) == "null":
				return json.RawMessage("[]"), nil
			case inner[0] == '[':
				return inner, nil
			case inner[0] == '{':
				return unwrapItems(inner)
			}
		}
		return nil, nil
	}
	return nil, errors.New("not a JSON object or array")
}

// maxMessage bounds the server message kept in an *Error.
const maxMessage = 200

// parseMessage extracts the server's explanation from an error body: the
// "message" or "error" string of a JSON object, else the text trimmed to about
// maxMessage bytes.
func parseMessage(body []byte) string {
	body = bytes.TrimSpace(body)
	if len(body) > 0 && body[0] == '{' {
		var obj map[string]json.RawMessage
		if json.Unmarshal(body, &obj) == nil {
			for _, key := range []string{"message", "error", "detail"} {
				if s := jsonText(obj[key]); s != "" {
					return clip(s)
				}
			}
		}
	}
	return clip(string(body))
}

// jsonText returns a JSON string's text, or the "message" of a nested object.
func jsonText(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var obj struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(raw, &obj) == nil {
		return obj.Message
	}
	return ""
}

// clip collapses whitespace and cuts s to about maxMessage bytes on a rune
// boundary, replacing invalid UTF-8.
func clip(s string) string {
	s = strings.Join(strings.Fields(strings.ToValidUTF8(s, "\uFFFD")), " ")
	if len(s) <= maxMessage {
		return s
	}
	cut := maxMessage
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
