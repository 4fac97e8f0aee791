package main

import (
	"fmt"
	"strings"
	"sync"

	"github.com/focussync/focussync/syncer"
)

// progressBar shows the uploads of every folder of a sync as the console's
// status line (on a terminal only).
type progressBar struct {
	con     *console
	mu      sync.Mutex
	folders map[string]syncer.Progress
}

func newProgressBar(con *console) *progressBar {
	return &progressBar{con: con, folders: map[string]syncer.Progress{}}
}

// update records one folder's progress and redraws the bar.
func (b *progressBar) update(p syncer.Progress) {
	if !b.con.draws {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.folders[p.Folder] = p
	var t syncer.Progress
	waiting := ""
	for _, f := range b.folders {
		t.Files += f.Files
		t.FilesTotal += f.FilesTotal
		t.Bytes += f.Bytes
		t.BytesTotal += f.BytesTotal
		if f.Waiting != "" {
			waiting = ", " + f.Waiting
		}
	}
	const width = 24
	filled := width
	if t.BytesTotal > 0 {
		filled = int(int64(width) * t.Bytes / t.BytesTotal)
	}
	quota := ""
	if p.QuotaLeft >= 0 {
		quota = fmt.Sprintf(", quota left %d", p.QuotaLeft)
	}
	b.con.SetStatus(fmt.Sprintf("[%s%s] %d/%d files, %s/%s%s%s",
		strings.Repeat("#", filled), strings.Repeat(".", width-filled),
		t.Files, t.FilesTotal, humanBytes(t.Bytes), humanBytes(t.BytesTotal), quota, waiting))
}

// done removes the bar.
func (b *progressBar) done() { b.con.SetStatus("") }
