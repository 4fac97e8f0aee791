package focustest

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"

	"github.com/focussync/focussync/focus"
)

// orderKey is one term of order_by.
type orderKey struct {
	field string
	desc  bool
}

// orderFields compares two attachments by one field.
var orderFields = map[string]func(a, b *focus.Attachment) int{
	"display_order": func(a, b *focus.Attachment) int { return cmp.Compare(a.DisplayOrder, b.DisplayOrder) },
	"name":          func(a, b *focus.Attachment) int { return strings.Compare(a.Name, b.Name) },
	"created_at":    func(a, b *focus.Attachment) int { return a.CreatedAt.Compare(b.CreatedAt) },
	"updated_at":    func(a, b *focus.Attachment) int { return a.UpdatedAt.Compare(b.UpdatedAt) },
	"id":            func(a, b *focus.Attachment) int { return cmp.Compare(a.ID, b.ID) },
	"size":          func(a, b *focus.Attachment) int { return cmp.Compare(a.Size, b.Size) },
}

// parseOrderBy reads the order_by values: repeated or comma-separated fields,
// each optionally prefixed with "-" for descending order.
func parseOrderBy(values []string) ([]orderKey, error) {
	var keys []orderKey
	for _, v := range values {
		for term := range strings.SplitSeq(v, ",") {
			term = strings.TrimSpace(term)
			if term == "" {
				continue
			}
			k := orderKey{field: term}
			if rest, ok := strings.CutPrefix(term, "-"); ok {
				k = orderKey{field: rest, desc: true}
			}
			if orderFields[k.field] == nil {
				return nil, fmt.Errorf("order_by: unknown field %q (known: display_order, name, created_at, updated_at, id, size)", k.field)
			}
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		keys = []orderKey{{field: "display_order"}}
	}
	return append(keys, orderKey{field: "id"}), nil
}

func (e *Emulator) list(r *http.Request, rt route, _ *Request) reply {
	keys, err := parseOrderBy(r.URL.Query()["order_by"])
	if err != nil {
		return errorReply(http.StatusBadRequest, "%v", err)
	}
	e.mu.Lock()
	items := e.taskItemsLocked(rt.task, e.listDel)
	as := make([]focus.Attachment, len(items))
	for i := range items {
		as[i] = e.attachmentLocked(items[i].id, &items[i].item)
	}
	e.mu.Unlock()
	slices.SortStableFunc(as, func(a, b focus.Attachment) int {
		for _, k := range keys {
			c := orderFields[k.field](&a, &b)
			if k.desc {
				c = -c
			}
			if c != 0 {
				return c
			}
		}
		return 0
	})
	return reply{status: http.StatusOK, body: listBody(as)}
}

func (e *Emulator) view(_ *http.Request, rt route, _ *Request) reply {
	e.mu.Lock()
	defer e.mu.Unlock()
	it, rep := e.lookupLocked(rt)
	if rep != nil {
		return *rep
	}
	return reply{status: http.StatusOK, body: jsonBody(toWire(e.attachmentLocked(rt.id, &it)))}
}

func (e *Emulator) delete(_ *http.Request, rt route, _ *Request) reply {
	e.mu.Lock()
	defer e.mu.Unlock()
	it, rep := e.lookupLocked(rt)
	if rep != nil {
		return *rep
	}
	now := e.stamp()
	it.isDeleted, it.deleted = true, now
	it.updated = now
	e.items[rt.id] = it
	return reply{status: http.StatusNoContent}
}

// maxJSONBody bounds the body of a PUT.
const maxJSONBody = 1 << 20

func (e *Emulator) update(r *http.Request, rt route, rec *Request) reply {
	b, err := io.ReadAll(io.LimitReader(r.Body, maxJSONBody+1))
	rec.Body = string(b)
	if err != nil {
		return errorReply(http.StatusBadRequest, "reading the body: %v", err)
	}
	if len(b) > maxJSONBody {
		return errorReply(http.StatusBadRequest, "body larger than %d bytes", maxJSONBody)
	}
	name, order, err := parseUpdate(b)
	if err != nil {
		return errorReply(http.StatusBadRequest, "%v", err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	it, rep := e.lookupLocked(rt)
	if rep != nil {
		return *rep
	}
	it.name = e.names.add(name)
	it.order = order
	it.updated = e.stamp()
	e.items[rt.id] = it
	return reply{status: http.StatusNoContent}
}

// parseUpdate reads the JSON body of a PUT: both fields are required.
func parseUpdate(b []byte) (name string, order int64, err error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(b, &fields); err != nil || fields == nil {
		if err == nil {
			err = fmt.Errorf("not an object")
		}
		return "", 0, fmt.Errorf("invalid JSON body: %v", err)
	}
	rawName, ok := fields["name"]
	if !ok {
		return "", 0, fmt.Errorf("name is required")
	}
	if err := json.Unmarshal(rawName, &name); err != nil || bytes.Equal(rawName, []byte("null")) {
		return "", 0, fmt.Errorf("name must be a string, got %s", rawName)
	}
	if name == "" {
		return "", 0, fmt.Errorf("name must not be empty")
	}
	rawOrder, ok := fields["display_order"]
	if !ok {
		return "", 0, fmt.Errorf("display_order is required")
	}
	dec := json.NewDecoder(bytes.NewReader(rawOrder))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return "", 0, fmt.Errorf("display_order must be an integer, got %s", rawOrder)
	}
	num, isNum := v.(json.Number)
	if !isNum {
		return "", 0, fmt.Errorf("display_order must be an integer, got %s", rawOrder)
	}
	order, err = num.Int64()
	if err != nil {
		return "", 0, fmt.Errorf("display_order must be an integer, got %s", rawOrder)
	}
	return name, order, nil
}
