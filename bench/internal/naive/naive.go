// Package naive is the client focussync is measured against: what a quick
// script would do. Every pass lists the task; each new file is one create;
// a renamed file is uploaded again under its new name and the old attachment
// deleted; a changed file is uploaded again and the old one deleted. A new
// file's display order is its position in the folder; existing attachments
// are never reordered (so the order drifts: the naive figures are a floor for
// such a client). It remembers the hash of what it uploaded, in memory.
package naive

import (
	"context"
	"fmt"
	"io/fs"
	"path/filepath"
	"sort"

	"github.com/focussync/focussync/bench/internal/benchenv"
	"github.com/focussync/focussync/focus"
	"github.com/focussync/focussync/internal/scope"
	"github.com/focussync/focussync/syncer"
)

// Client mirrors one folder into one task, naively.
type Client struct {
	API       *focus.Client
	Task      focus.Task
	Root      string
	Recursive bool

	hashes map[int64]string // attachment id -> hash of the file uploaded
}

// Forget drops what the client remembers, as a restart of a script does.
func (c *Client) Forget() { c.hashes = nil }

type localFile struct {
	path, name, hash string
	size             int64
}

// Pass makes the task mirror the folder.
func (c *Client) Pass(ctx context.Context) error {
	if c.hashes == nil {
		c.hashes = map[int64]string{}
	}
	remote, err := c.API.ListLive(ctx, c.Task)
	if err != nil {
		return fmt.Errorf("naive pass: %w", err)
	}
	local, err := c.scan()
	if err != nil {
		return fmt.Errorf("naive pass: %w", err)
	}
	byName := map[string]focus.Attachment{}
	for _, a := range remote {
		byName[a.Name] = a
	}
	for i, f := range local {
		order := int64(i)
		a, ok := byName[f.name]
		known, remembered := c.hashes[a.ID]
		switch {
		case !ok:
			if err := c.create(ctx, f, order); err != nil {
				return err
			}
		case a.Size != f.size || (remembered && known != f.hash):
			if err := c.create(ctx, f, order); err != nil {
				return err
			}
			if err := c.API.Delete(ctx, c.Task, a.ID); err != nil {
				return fmt.Errorf("naive pass: delete %s: %w", a.Name, err)
			}
			delete(c.hashes, a.ID)
		default:
			c.hashes[a.ID] = f.hash
		}
	}
	for _, a := range remote {
		if _, still := byNameOf(local)[a.Name]; !still {
			if err := c.API.Delete(ctx, c.Task, a.ID); err != nil {
				return fmt.Errorf("naive pass: delete %s: %w", a.Name, err)
			}
			delete(c.hashes, a.ID)
		}
	}
	return nil
}

func byNameOf(local []localFile) map[string]bool {
	m := make(map[string]bool, len(local))
	for _, f := range local {
		m[f.name] = true
	}
	return m
}

func (c *Client) create(ctx context.Context, f localFile, order int64) error {
	a, err := c.API.Create(ctx, c.Task, focus.Upload{Path: f.path, Size: f.size, Name: f.name, DisplayOrder: order})
	if err != nil {
		return fmt.Errorf("naive pass: upload %s: %w", f.name, err)
	}
	c.hashes[a.ID] = f.hash
	return nil
}

// scan lists and hashes every file, sorted by name.
func (c *Client) scan() ([]localFile, error) {
	var out []localFile
	err := filepath.WalkDir(c.Root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == c.Root {
			return err
		}
		if scope.IgnoredByDefault(d.Name()) || (d.IsDir() && !c.Recursive) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		h, err := benchenv.HashFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(c.Root, p)
		out = append(out, localFile{path: p, name: syncer.RemoteName(filepath.ToSlash(rel)), hash: h, size: fi.Size()})
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out, err
}
