package focustest

import (
	"time"

	"github.com/focussync/focussync/focus"
)

// item is one stored attachment, in a form that holds no pointers: its name is
// a slice of Emulator.names, its MIME type an index into Emulator.mimes and its
// times Unix seconds. A map of such values is skipped by the garbage collector,
// however many attachments it holds. Kept under 128 bytes, an item also sits in
// the map's own table rather than in a heap object of its own.
//
// The attachment id is the item's key in Emulator.items. The content, when
// kept, is at contentPath(task, id).
type item struct {
	task    int64
	size    int64
	order   int64 // display order
	created int64 // Unix seconds; stamps are UTC and whole seconds
	updated int64 // Unix seconds
	deleted int64 // Unix seconds of the soft delete, when isDeleted
	name    textRef
	mime    int32 // index into Emulator.mimes
	// isDeleted says that the item was soft-deleted, even at the zero time (a
	// clock that says so): deleted_at is then set but the item counts as live,
	// as focus.Attachment.Deleted has it.
	isDeleted bool
	sum       [32]byte // SHA-256 of the content
}

// live reports whether the item is listed and found, that is not soft-deleted.
func (it *item) live() bool { return !it.isDeleted || it.deleted == zeroUnix }

// zeroUnix is the zero time.Time in Unix seconds.
var zeroUnix = time.Time{}.Unix()

// unixTime is the time of a stamp: UTC, whole seconds.
func unixTime(sec int64) time.Time { return time.Unix(sec, 0).UTC() }

// attachmentLocked builds the attachment that an item stores.
func (e *Emulator) attachmentLocked(id int64, it *item) focus.Attachment {
	a := focus.Attachment{
		ID:           id,
		TaskID:       it.task,
		Name:         e.names.get(it.name),
		Size:         it.size,
		MimeType:     e.mimes[it.mime],
		DisplayOrder: it.order,
		CreatedAt:    unixTime(it.created),
		UpdatedAt:    unixTime(it.updated),
	}
	if it.isDeleted {
		d := unixTime(it.deleted)
		a.DeletedAt = &d
	}
	return a
}

// mimeLocked returns the index of a MIME type in e.mimes, adding it when new.
// Attachments share a handful of types, so each is held once.
func (e *Emulator) mimeLocked(t string) int32 {
	if i, ok := e.mimeIdx[t]; ok {
		return i
	}
	i := int32(len(e.mimes))
	e.mimes = append(e.mimes, t)
	e.mimeIdx[t] = i
	return i
}

// textArena holds strings back to back in one byte slice, so that many of them
// cost the garbage collector a single object. Bytes once written never change:
// replacing a string appends the new one and leaves the old bytes unused.
type textArena struct{ buf []byte }

// textRef is where a string sits in a textArena.
type textRef struct{ off, n int }

// add appends s and returns where it sits.
func (a *textArena) add(s string) textRef {
	r := textRef{off: len(a.buf), n: len(s)}
	a.buf = append(a.buf, s...)
	return r
}

// get returns a copy of the string at r.
func (a *textArena) get(r textRef) string { return string(a.buf[r.off : r.off+r.n]) }
