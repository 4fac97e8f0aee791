package naive

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/focussync/focussync/focus"
	"github.com/focussync/focussync/focus/focustest"
)

func TestPass_CostsWhatANaiveClientCosts(t *testing.T) {
	ctx := context.Background()
	srv := focustest.NewServer(focustest.Options{Token: "tok"})
	defer srv.Close()
	api, err := focus.New(focus.Options{BaseURL: srv.URL, Token: "tok"})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	c := &Client{API: api, Task: focus.Task{OrganizationID: 1, WorkspaceID: 2, TaskID: 3}, Root: dir}
	for _, n := range []string{"a.txt", "b.txt", "c.txt"} {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("content "+n), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	step := func(what string, want int) {
		t.Helper()
		mark := len(srv.Requests())
		if err := c.Pass(ctx); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if got := len(srv.Requests()) - mark; got != want {
			t.Errorf("%s: %d requests, want %d", what, got, want)
		}
		var names []string
		for _, a := range srv.Attachments(3) {
			names = append(names, a.Name)
		}
		entries, _ := os.ReadDir(dir)
		if len(names) != len(entries) {
			t.Errorf("%s: attachments %v for %d files", what, names, len(entries))
		}
	}
	step("first pass", 4) // list + 3 creates
	step("idle", 1)
	if err := os.Rename(filepath.Join(dir, "b.txt"), filepath.Join(dir, "bb.txt")); err != nil {
		t.Fatal(err)
	}
	step("rename", 3) // list + create + delete
	if err := os.WriteFile(filepath.Join(dir, "a.txt"), []byte("new and longer content"), 0o644); err != nil {
		t.Fatal(err)
	}
	step("content change", 3)
	if err := os.Remove(filepath.Join(dir, "c.txt")); err != nil {
		t.Fatal(err)
	}
	step("delete", 2)
}

func TestBareBulk_UploadsInBatchesOfTen(t *testing.T) {
	for _, loops := range []int{1, 2} {
		t.Run(fmt.Sprintf("loops=%d", loops), func(t *testing.T) {
			srv := focustest.NewServer(focustest.Options{Token: "tok"})
			defer srv.Close()
			dir := t.TempDir()
			var files []BareFile
			for i := range 23 {
				p := filepath.Join(dir, string(rune('a'+i))+".bin")
				if err := os.WriteFile(p, []byte{byte(i)}, 0o644); err != nil {
					t.Fatal(err)
				}
				files = append(files, BareFile{Path: p, Name: filepath.Base(p)})
			}
			if err := BareBulk(context.Background(), srv.Client(), srv.URL, 1, 2, 3, "tok", files, loops); err != nil {
				t.Fatal(err)
			}
			got := map[string]bool{}
			for _, a := range srv.Attachments(3) {
				got[a.Name] = true
			}
			if len(got) != 23 || len(srv.Attachments(3)) != 23 {
				t.Errorf("attachments = %d (%d names), want 23 distinct", len(srv.Attachments(3)), len(got))
			}
			if n := len(srv.Requests()); n != 3 {
				t.Errorf("requests = %d, want 3 bulk creates", n)
			}
		})
	}
}

func TestBareBulk_StopsAtTheFirstError(t *testing.T) {
	srv := focustest.NewServer(focustest.Options{Token: "tok"})
	defer srv.Close()
	files := []BareFile{{Path: filepath.Join(t.TempDir(), "missing.bin"), Name: "missing.bin"}}
	if err := BareBulk(context.Background(), srv.Client(), srv.URL, 1, 2, 3, "tok", files, 2); err == nil {
		t.Error("a file that cannot be read: no error")
	}
}
