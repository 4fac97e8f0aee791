package focus

import (
	"encoding/json"
	"errors"
	"testing"
	"time"
)

var createdSeeds = []string{
	``,
	`{}`,
	`null`,
	`garbage`,
	`[]`,
	`{"id":0}`,
	`{"id":"12","name":"q.txt"}`,
	`{"id":5,"task_id":101,"name":"a.pdf","size":3,"mime_type":"application/pdf","display_order":1024,"created_at":"2026-01-02T03:04:05Z","updated_at":"2026-01-02T03:04:05.999999999+01:00","deleted_at":null}`,
	`{"items":[{"id":1,"name":"a"},{"id":2,"name":"b"}]}`,
	`{"data":{"id":3,"name":"c"}}`,
	`{"data":[{"id":4},{"id":5}]}`,
	`{"data":{"items":[{"id":6}]}}`,
	`[{"id":7,"deleted_at":""}]`,
	`[{"id":8},{"name":"no id"}]`,
	`{"message":"created"}`,
	`{"id":9,"created_at":"yesterday"}`,
}

func TestParseCreated(t *testing.T) {
	cases := []struct {
		body string
		ids  []int64
	}{
		{`{"id":5,"name":"a.pdf","created_at":"2026-01-02T03:04:05Z","deleted_at":null}`, []int64{5}},
		{`{"id":"12"}`, []int64{12}},
		{`{"items":[{"id":1},{"id":2}]}`, []int64{1, 2}},
		{`{"data":{"id":3}}`, []int64{3}},
		{`{"data":[{"id":4},{"id":5}]}`, []int64{4, 5}},
		{` [{"id":7}] `, []int64{7}},
	}
	for _, tc := range cases {
		as, err := ParseCreated([]byte(tc.body))
		if err != nil {
			t.Errorf("ParseCreated(%s): %v", tc.body, err)
			continue
		}
		if len(as) != len(tc.ids) {
			t.Errorf("ParseCreated(%s) = %d attachments, want %d", tc.body, len(as), len(tc.ids))
			continue
		}
		for i, a := range as {
			if a.ID != tc.ids[i] {
				t.Errorf("ParseCreated(%s)[%d].ID = %d, want %d", tc.body, i, a.ID, tc.ids[i])
			}
		}
	}
	for _, body := range []string{``, `{}`, `null`, `garbage`, `[]`, `{"id":0}`, `{"items":[]}`, `[{"id":8},{"name":"x"}]`, `{"message":"ok"}`, `{"id":9,"created_at":"yesterday"}`} {
		if _, err := ParseCreated([]byte(body)); !errors.Is(err, ErrIDsUnknown) {
			t.Errorf("ParseCreated(%q) err = %v, want ErrIDsUnknown", body, err)
		}
	}
}

func TestParseList(t *testing.T) {
	body := `{"items":[{"id":1,"created_at":"2026-01-02T03:04:05Z","updated_at":"2026-01-02T03:04:05.5Z","deleted_at":null},
		{"id":2,"deleted_at":"2026-01-03T00:00:00+02:00"},{"id":3,"deleted_at":""}]}`
	as, err := ParseList([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if len(as) != 3 || as[0].Deleted() || !as[1].Deleted() || as[2].Deleted() {
		t.Fatalf("ParseList = %+v", as)
	}
	if want := time.Date(2026, 1, 2, 3, 4, 5, 5e8, time.UTC); !as[0].UpdatedAt.Equal(want) {
		t.Errorf("UpdatedAt = %v, want %v", as[0].UpdatedAt, want)
	}
	for _, ok := range []string{`[]`, `{"items":[]}`, `{"items":null}`, `{"data":[{"id":1}]}`} {
		if _, err := ParseList([]byte(ok)); err != nil {
			t.Errorf("ParseList(%s): %v", ok, err)
		}
	}
	for _, bad := range []string{``, `{}`, `garbage`, `[{"name":"no id"}]`, `{"items":{"id":1}}`} {
		if _, err := ParseList([]byte(bad)); err == nil {
			t.Errorf("ParseList(%q) succeeded, want an error", bad)
		}
	}
}

func TestParseMessage(t *testing.T) {
	for body, want := range map[string]string{
		`{"message":"bad name"}`:         "bad name",
		`{"error":"nope"}`:               "nope",
		`{"error":{"message":"nested"}}`: "nested",
		"  plain\n text  ":               "plain text",
		`{"other":1}`:                    `{"other":1}`,
		"bad \xff utf8":                  "bad \uFFFD utf8",
		"":                               "",
	} {
		if got := parseMessage([]byte(body)); got != want {
			t.Errorf("parseMessage(%q) = %q, want %q", body, got, want)
		}
	}
}

// sameAttachments reports whether a and b hold the same attachments, comparing
// instants rather than time zone representations.
func sameAttachments(a, b []Attachment) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if x.ID != y.ID || x.TaskID != y.TaskID || x.Name != y.Name || x.Size != y.Size ||
			x.MimeType != y.MimeType || x.DisplayOrder != y.DisplayOrder ||
			!x.CreatedAt.Equal(y.CreatedAt) || !x.UpdatedAt.Equal(y.UpdatedAt) ||
			x.Deleted() != y.Deleted() || (x.Deleted() && !x.DeletedAt.Equal(*y.DeletedAt)) {
			return false
		}
	}
	return true
}

// checkRoundTrip asserts that parsed attachments survive encoding as JSON and
// parsing again with parse.
func checkRoundTrip(t *testing.T, as []Attachment, wrap func([]Attachment) any, parse func([]byte) ([]Attachment, error)) {
	t.Helper()
	enc, err := json.Marshal(wrap(as))
	if err != nil {
		// A parsed timestamp Go cannot print back (an offset past 24 hours) is the
		// only thing that fails here; it says nothing about the parser.
		t.Skipf("re-encoding %+v: %v", as, err)
	}
	again, err := parse(enc)
	if err != nil {
		t.Fatalf("parsing the re-encoded %s: %v", enc, err)
	}
	if !sameAttachments(as, again) {
		t.Fatalf("round trip changed the attachments:\n  %+v\n  %+v", as, again)
	}
}

func FuzzParseCreated(f *testing.F) {
	for _, s := range createdSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		as, err := ParseCreated(body)
		if err != nil {
			if !errors.Is(err, ErrIDsUnknown) {
				t.Fatalf("ParseCreated error %v does not wrap ErrIDsUnknown", err)
			}
			if as != nil {
				t.Fatalf("ParseCreated returned attachments with an error")
			}
			return
		}
		if len(as) == 0 {
			t.Fatal("ParseCreated returned no attachments and no error")
		}
		for _, a := range as {
			if a.ID <= 0 {
				t.Fatalf("parsed id %d, want > 0", a.ID)
			}
			if a.DeletedAt != nil && a.DeletedAt.IsZero() {
				t.Fatal("a zero deleted_at was kept")
			}
		}
		checkRoundTrip(t, as, func(as []Attachment) any { return map[string]any{"items": as} }, ParseCreated)
		if len(as) == 1 {
			checkRoundTrip(t, as, func(as []Attachment) any { return as[0] }, ParseCreated)
		}
	})
}

func FuzzParseList(f *testing.F) {
	for _, s := range createdSeeds {
		f.Add([]byte(s))
	}
	f.Add([]byte(`{"items":null}`))
	f.Add([]byte(`{"items":[{"id":1,"size":"7","display_order":-3,"updated_at":"2026-01-02T03:04:05.1-07:00"}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		as, err := ParseList(body)
		if err != nil {
			if as != nil {
				t.Fatal("ParseList returned attachments with an error")
			}
			return
		}
		for _, a := range as {
			if a.ID <= 0 {
				t.Fatalf("parsed id %d, want > 0", a.ID)
			}
		}
		checkRoundTrip(t, as, func(as []Attachment) any { return map[string]any{"items": as} }, ParseList)
		checkRoundTrip(t, as, func(as []Attachment) any { return as }, ParseList)
	})
}
