package cluster

import (
	"bytes"
	"encoding/json"
	"maps"
	"path/filepath"
	"slices"
	"testing"

	"github.com/focussync/focussync/state"
)

func TestHandover_RoundTrip(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	w := newHandoverWriter(nil, dir, task.Task)
	if h, err := w.load(task); h != nil || err != nil {
		t.Fatalf("load of a missing file = %v, %v; want nil, nil", h, err)
	}
	recs := map[string]state.FileRecord{
		"b.txt":    {Path: "b.txt", Size: 2, Hash: "bb", AttachmentID: 2, RemoteName: "b.txt", DisplayOrder: 2048},
		"a.txt":    {Path: "a.txt", Size: 1, Hash: "aa", AttachmentID: 1, RemoteName: "a.txt", DisplayOrder: 1024},
		"huge.iso": {Path: "huge.iso", Size: 9, Refused: &state.Refusal{Hash: "cc"}}, // no attachment: not handed over
	}
	data, err := encodeHandover(task, "db-a", func(fn func(state.FileRecord) error) error {
		for _, p := range slices.Sorted(maps.Keys(recs)) {
			if err := fn(recs[p]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var whole bytes.Buffer // what json.Marshal makes of the handover, for the same records
	if err := json.NewEncoder(&whole).Encode(handover{Version: handoverVersion, Task: task.String(), Writer: "db-a",
		Records: []state.FileRecord{recs["a.txt"], recs["b.txt"]}}); err != nil {
		t.Fatal(err)
	}
	if string(data) != whole.String() {
		t.Errorf("handover file\n%s\nis not what json.Marshal makes of the handover\n%s", data, whole.String())
	}
	if err := w.save(data, "t"); err != nil {
		t.Fatal(err)
	}
	var h *handover
	h, err = newHandoverWriter(nil, dir, task.Task).load(task)
	if err != nil {
		t.Fatal(err)
	}
	if h.Writer != "db-a" || len(h.Records) != 2 || h.Records[0].Path != "a.txt" || h.Records[1].AttachmentID != 2 {
		t.Errorf("handover = %+v", h)
	}
	if _, err := newHandoverWriter(nil, dir, task.Task).load(Task{Organization: 11, Workspace: 22, Task: 999}); err == nil {
		t.Error("a handover file read for another task is accepted")
	}
	if filepath.Base(w.path) != ".focussync-records-101" {
		t.Errorf("handover file = %s, want a dotfile", w.path)
	}
}
