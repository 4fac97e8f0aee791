package syncer

import (
	"fmt"

	"github.com/focussync/focussync/focus"
	"github.com/focussync/focussync/state"
)

// simulator is a task and a state store that a plan is applied to, as an executor
// would when every request succeeds. It refuses any op on an attachment that no
// record owned and the plan did not adopt.
type simulator struct {
	remote       map[int64]focus.Attachment
	records      map[string]state.FileRecord
	owned        map[int64]bool // owned at the start, or adopted
	startManaged int
	nextID       int64
}

func newSimulator(remote map[int64]focus.Attachment, records map[string]state.FileRecord) *simulator {
	s := &simulator{remote: map[int64]focus.Attachment{}, records: map[string]state.FileRecord{}, owned: map[int64]bool{}}
	for id, a := range remote {
		s.remote[id] = a
		s.nextID = max(s.nextID, id)
	}
	for p, r := range records {
		s.records[p] = r
		if r.Managed() {
			if !s.owned[r.AttachmentID] {
				s.startManaged++
			}
			s.owned[r.AttachmentID] = true
			s.nextID = max(s.nextID, r.AttachmentID)
		}
	}
	return s
}

// touch checks that an op may name the attachment.
func (s *simulator) touch(op string, id int64) error {
	if !s.owned[id] {
		return fmt.Errorf("%s names attachment %d that no record owns", op, id)
	}
	return nil
}

// apply runs the plan in the executor's order: records first, then uploads (each
// replaced version deleted after its batch), deletes, and updates.
func (s *simulator) apply(p *Plan) error {
	for _, path := range p.Forget {
		if _, ok := s.records[path]; !ok {
			return fmt.Errorf("forget %q: no record", path)
		}
		delete(s.records, path)
	}
	for _, r := range p.Adopt {
		if s.owned[r.AttachmentID] {
			return fmt.Errorf("adopt %q: attachment %d is owned already", r.Path, r.AttachmentID)
		}
		if old, ok := s.records[r.Path]; ok && old.Managed() {
			return fmt.Errorf("adopt %q: the path owns attachment %d", r.Path, old.AttachmentID)
		}
		if _, ok := s.remote[r.AttachmentID]; !ok {
			return fmt.Errorf("adopt %q: attachment %d does not exist", r.Path, r.AttachmentID)
		}
		s.owned[r.AttachmentID] = true
		s.records[r.Path] = r
	}
	for _, r := range p.Touch {
		old, ok := s.records[r.Path]
		if !ok || old.AttachmentID != r.AttachmentID {
			return fmt.Errorf("touch %q: record %+v does not match", r.Path, old)
		}
		s.records[r.Path] = r
	}
	for _, b := range p.Uploads {
		if len(b.Files) == 0 || len(b.Files) > focus.MaxBulkFiles {
			return fmt.Errorf("a batch of %d files", len(b.Files))
		}
		for _, f := range b.Files {
			if f.Replaces != 0 {
				if err := s.touch("upload of "+f.Path+" replacing", f.Replaces); err != nil {
					return err
				}
			}
			s.nextID++
			s.remote[s.nextID] = focus.Attachment{ID: s.nextID, Name: f.Name, Size: f.Size, DisplayOrder: f.DisplayOrder}
			s.owned[s.nextID] = true
			s.records[f.Path] = state.FileRecord{Path: f.Path, Size: f.Size, ModTime: f.ModTime, Inode: f.Inode, Hash: f.Hash,
				AttachmentID: s.nextID, RemoteName: f.Name, DisplayOrder: f.DisplayOrder}
		}
		for _, f := range b.Files {
			if f.Replaces != 0 {
				delete(s.remote, f.Replaces)
			}
		}
	}
	for _, d := range p.Deletes {
		if err := s.touch("delete of "+d.Path, d.AttachmentID); err != nil {
			return err
		}
		if r := s.records[d.Path]; r.AttachmentID != d.AttachmentID {
			return fmt.Errorf("delete %q: record owns %d, not %d", d.Path, r.AttachmentID, d.AttachmentID)
		}
		delete(s.remote, d.AttachmentID)
		delete(s.records, d.Path)
	}
	for _, u := range p.Updates {
		if err := s.touch("update of "+u.Path, u.AttachmentID); err != nil {
			return err
		}
		a, ok := s.remote[u.AttachmentID]
		if !ok {
			return fmt.Errorf("update %q: attachment %d does not exist", u.Path, u.AttachmentID)
		}
		if u.Record.Path != u.Path || u.Record.AttachmentID != u.AttachmentID || u.Record.RemoteName != u.Name || u.Record.DisplayOrder != u.DisplayOrder {
			return fmt.Errorf("update %q: record %+v does not match", u.Path, u.Record)
		}
		a.Name, a.DisplayOrder = u.Name, u.DisplayOrder
		s.remote[a.ID] = a
		if u.Rename() {
			if r := s.records[u.OldPath]; r.AttachmentID != u.AttachmentID {
				return fmt.Errorf("rename %q: record owns %d, not %d", u.OldPath, r.AttachmentID, u.AttachmentID)
			}
			delete(s.records, u.OldPath)
		}
		s.records[u.Path] = u.Record
	}
	return nil
}
