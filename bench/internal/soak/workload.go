package soak

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/focussync/focussync/bench/internal/benchenv"
)

// places are where the workload puts files, relative to the scratch dir: the
// root and two subfolders of folder a (recursive, one task) and folder b
// (another task).
var places = []string{"a", "a/sub1", "a/sub2", "b"}

// workload changes the folders at random, as people and programs do: adds,
// renames, edits, moves, deletes, slow writers and files that vanish soon after
// they appear.
type workload struct {
	dir string
	rng *rand.Rand

	mu    sync.Mutex
	files map[string]bool // relative path -> busy (a slow writer or a vanisher holds it)
	ops   map[string]int
	seq   int
	wg    sync.WaitGroup
	errs  []error

	// secret is a file outside the folders that the hostile actor links to;
	// secretSize its size.
	secret     string
	secretSize int64
}

func newWorkload(dir string, seed int64) *workload {
	return &workload{dir: dir, rng: rand.New(rand.NewPCG(uint64(seed), 0x776f726b)), files: map[string]bool{}, ops: map[string]int{}}
}

// seed writes the starting files: 40 in folder a, 20 in folder b.
func (w *workload) seed() error {
	for i := range 60 {
		place := places[i%3]
		if i >= 40 {
			place = "b"
		}
		rel := w.newName(place, "base")
		if err := w.write(rel, w.size()); err != nil {
			return err
		}
		w.files[rel] = false
	}
	return nil
}

// newName returns a fresh relative path in place; now and then its name holds
// bytes that are not UTF-8.
func (w *workload) newName(place, kind string) string {
	w.seq++
	name := fmt.Sprintf("%s-%05d.dat", kind, w.seq)
	if w.rng.IntN(10) == 0 {
		name = fmt.Sprintf("n\xff%05d\xfe-%s.txt", w.seq, kind)
	}
	return place + "/" + name
}

// size draws a file size: 1 in 12 empty, else up to 512 KiB, mostly small.
func (w *workload) size() int64 {
	if w.rng.IntN(12) == 0 {
		return 0
	}
	return benchenv.LogUniformSize(w.rng, 16, 512<<10)
}

func (w *workload) abs(rel string) string { return filepath.Join(w.dir, filepath.FromSlash(rel)) }

func (w *workload) write(rel string, size int64) error {
	return benchenv.WriteRandom(w.abs(rel), size, rand.New(rand.NewPCG(w.rng.Uint64(), 1)))
}

// pick returns a random file that no goroutine holds, or "".
func (w *workload) pick() string {
	var free []string
	for p, busy := range w.files {
		if !busy {
			free = append(free, p)
		}
	}
	if len(free) == 0 {
		return ""
	}
	sort.Strings(free)
	return free[w.rng.IntN(len(free))]
}

// step applies one random change.
func (w *workload) step(ctx context.Context) {
	w.mu.Lock()
	defer w.mu.Unlock()
	var err error
	kind := ""
	switch x := w.rng.IntN(100); {
	case x < 24:
		kind = "add"
		rel := w.newName(places[w.rng.IntN(len(places))], "add")
		if err = w.write(rel, w.size()); err == nil {
			w.files[rel] = false
		}
	case x < 36:
		kind = "rename"
		if rel := w.pick(); rel != "" {
			to := w.newName(filepath.ToSlash(filepath.Dir(rel)), "ren")
			if err = os.Rename(w.abs(rel), w.abs(to)); err == nil {
				delete(w.files, rel)
				w.files[to] = false
			}
		}
	case x < 50:
		kind = "modify"
		if rel := w.pick(); rel != "" {
			err = w.write(rel, w.size())
		}
	case x < 58:
		kind = "append"
		if rel := w.pick(); rel != "" {
			err = appendTo(w.abs(rel), fmt.Sprintf("appended %d\n", w.seq))
		}
	case x < 70:
		kind = "move"
		if rel := w.pick(); rel != "" {
			dst := moveTarget(filepath.ToSlash(filepath.Dir(rel)), w.rng)
			to := dst + "/" + filepath.Base(rel)
			if _, taken := w.files[to]; taken {
				to = w.newName(dst, "mov")
			}
			if err = os.Rename(w.abs(rel), w.abs(to)); err == nil {
				delete(w.files, rel)
				w.files[to] = false
			}
		}
	case x < 78:
		kind = "delete"
		if rel := w.pick(); rel != "" {
			if err = os.Remove(w.abs(rel)); err == nil {
				delete(w.files, rel)
			}
		}
	case x < 82:
		kind = "burst-add"
		place := places[w.rng.IntN(len(places))]
		for range 8 + w.rng.IntN(10) {
			rel := w.newName(place, "burst")
			if err = w.write(rel, w.size()); err != nil {
				break
			}
			w.files[rel] = false
		}
	case x < 84:
		kind = "burst-rename"
		for range 3 + w.rng.IntN(6) {
			rel := w.pick()
			if rel == "" {
				break
			}
			to := w.newName(filepath.ToSlash(filepath.Dir(rel)), "bren")
			if err = os.Rename(w.abs(rel), w.abs(to)); err != nil {
				break
			}
			delete(w.files, rel)
			w.files[to] = false
		}
	case x < 90:
		kind = "slow-write"
		rel := w.newName(places[w.rng.IntN(len(places))], "slow")
		w.files[rel] = true
		chunks, gap := 4+w.rng.IntN(6), time.Duration(200+w.rng.IntN(1300))*time.Millisecond
		w.wg.Add(1)
		go w.slowWrite(ctx, rel, chunks, gap, w.rng.Uint64())
	case x < 95:
		// The hostile actor: a new file of the secret's size, replaced a moment
		// later (often between its scan and its upload) by a symlink to the
		// secret outside the folders, or by a FIFO.
		kind = "hostile-add"
		if w.secret != "" {
			rel := w.newName(places[w.rng.IntN(len(places))], "swap")
			if err = w.write(rel, w.secretSize); err == nil {
				w.files[rel] = true
				// Mostly after the settle time (1 to 1.5 s) and the scan that
				// follows, and often before the upload, which waits for the
				// quota for up to its 20 s window.
				wait := time.Duration(1000+w.rng.IntN(14000)) * time.Millisecond
				fifo := w.rng.IntN(3) == 0
				w.wg.Add(1)
				go w.swap(ctx, rel, wait, fifo)
			}
		}
	default:
		kind = "vanish"
		rel := w.newName(places[w.rng.IntN(len(places))], "gone")
		if err = w.write(rel, benchenv.LogUniformSize(w.rng, 256<<10, 3<<20)); err == nil {
			w.files[rel] = true
			wait := time.Duration(200+w.rng.IntN(2800)) * time.Millisecond
			w.wg.Add(1)
			go w.vanish(ctx, rel, wait)
		}
	}
	w.ops[kind]++
	if err != nil {
		w.errs = append(w.errs, fmt.Errorf("%s: %w", kind, err))
	}
}

// moveTarget is where a file in place moves: between the subfolders of a, or
// between the root of a and folder b (another task).
func moveTarget(place string, rng *rand.Rand) string {
	switch place {
	case "a/sub1":
		return "a/sub2"
	case "a/sub2":
		return "a/sub1"
	case "a":
		if rng.IntN(2) == 0 {
			return "b"
		}
		return "a/sub1"
	default:
		return "a"
	}
}

func appendTo(p, s string) error {
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(s); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// slowWrite writes a file in chunks with a pause between them, as a download
// or a scanner does, then releases it.
func (w *workload) slowWrite(ctx context.Context, rel string, chunks int, gap time.Duration, seed uint64) {
	defer w.wg.Done()
	err := func() error {
		f, err := os.Create(w.abs(rel))
		if err != nil {
			return err
		}
		defer f.Close()
		rng := rand.New(rand.NewPCG(seed, 2))
		buf := make([]byte, 32<<10)
		for i := range chunks {
			if i > 0 {
				select {
				case <-ctx.Done():
				case <-time.After(gap):
				}
			}
			for j := range buf {
				buf[j] = byte(rng.Uint32())
			}
			if _, err := f.Write(buf); err != nil {
				return err
			}
		}
		return f.Close()
	}()
	w.mu.Lock()
	defer w.mu.Unlock()
	w.files[rel] = false
	if err != nil {
		w.errs = append(w.errs, fmt.Errorf("slow-write %q: %w", rel, err))
	}
}

// vanish deletes a file after wait: it may be in the middle of its upload.
func (w *workload) vanish(ctx context.Context, rel string, wait time.Duration) {
	defer w.wg.Done()
	select {
	case <-ctx.Done():
	case <-time.After(wait):
	}
	err := os.Remove(w.abs(rel))
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.files, rel)
	if err != nil {
		w.errs = append(w.errs, fmt.Errorf("vanish %q: %w", rel, err))
	}
}

// swap replaces a file by a symlink to the secret, or by a FIFO, after wait, the
// way an attacker with write access to the share would: made beside it, renamed
// over it. The path leaves the workload's files: it holds no regular file now.
func (w *workload) swap(ctx context.Context, rel string, wait time.Duration, fifo bool) {
	defer w.wg.Done()
	select {
	case <-ctx.Done():
	case <-time.After(wait):
	}
	p := w.abs(rel)
	tmp := filepath.Join(filepath.Dir(p), ".swap-"+filepath.Base(p))
	var err error
	what := "symlink"
	if fifo {
		what = "fifo"
		err = mkfifo(tmp)
	} else {
		err = os.Symlink(w.secret, tmp)
	}
	if err == nil {
		err = os.Rename(tmp, p)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.files, rel)
	if err != nil {
		w.errs = append(w.errs, fmt.Errorf("swap %q for a %s: %w", rel, what, err))
		return
	}
	w.ops["swapped-"+what]++
}

// wait waits for the slow writers and vanishing files in flight.
func (w *workload) wait() { w.wg.Wait() }
