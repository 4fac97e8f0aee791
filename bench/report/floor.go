package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/focussync/focussync/bench/internal/benchenv"
	"github.com/focussync/focussync/bench/internal/naive"
	"github.com/focussync/focussync/focus/focustest"
)

// holdEnv, set to a count, makes the report's binary the memory floor's child:
// a bare Go process that holds one small record per file and waits.
const holdEnv = "FOCUSSYNC_BENCH_HOLD"

// smallRecord is what the memory floor holds per file: the stat, the content
// hash and the attachment, in fixed-size fields.
type smallRecord struct {
	size, mtime  int64
	inode        uint64
	attachment   int64
	displayOrder int64
	hash         [sha256.Size]byte
}

// holdRecords builds n records keyed by paths shaped like the rescan tree's
// (1,000 files per folder), says "ready" on stdout and waits for stdin to close.
func holdRecords(arg string) int {
	n, err := strconv.Atoi(arg)
	if err != nil || n < 0 {
		fmt.Fprintf(os.Stderr, "%s=%q: not a count\n", holdEnv, arg)
		return 2
	}
	recs := make(map[string]smallRecord)
	for i := range n {
		p := fmt.Sprintf("dir%03d/file%04d.txt", i/1000, i%1000)
		r := smallRecord{size: int64(len(p)), mtime: time.Now().UnixNano(), inode: uint64(i + 1), attachment: int64(i + 1), displayOrder: int64(i) * 1024}
		binary.BigEndian.PutUint64(r.hash[:], uint64(i))
		r.hash = sha256.Sum256(r.hash[:])
		recs[p] = r
	}
	runtime.GC()
	fmt.Println("ready")
	_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
	runtime.KeepAlive(recs)
	return 0
}

// holderMem runs the memory floor's child for n records and returns its memory
// once it holds them.
func holderMem(ctx context.Context, n int) (benchenv.Mem, error) {
	self, err := os.Executable()
	if err != nil {
		return benchenv.Mem{}, fmt.Errorf("memory floor: %w", err)
	}
	cmd := exec.CommandContext(ctx, self)
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%d", holdEnv, n))
	in, err := cmd.StdinPipe()
	if err != nil {
		return benchenv.Mem{}, fmt.Errorf("memory floor: %w", err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return benchenv.Mem{}, fmt.Errorf("memory floor: %w", err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return benchenv.Mem{}, fmt.Errorf("memory floor: %w", err)
	}
	defer cmd.Wait()
	defer in.Close()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "ready" {
		return benchenv.Mem{}, fmt.Errorf("memory floor: child said %q: %v", line, err)
	}
	sleepCtx(ctx, time.Second)
	return benchenv.ReadMem(cmd.Process.Pid)
}

// bareEnv, set to an emulator's URL, makes the report's binary the upload floor's
// child: it sends the files named on its stdin (one path a line) to that emulator
// in bulk creates of 10 from two concurrent bare loops, as bareUpload does, so
// that the memory of a bare uploader can be measured beside focussync's.
const bareEnv = "FOCUSSYNC_BENCH_BARE"

// bareChild is the upload floor's child process.
func bareChild(url string) int {
	var files []naive.BareFile
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		files = append(files, naive.BareFile{Path: sc.Text(), Name: filepath.Base(sc.Text())})
	}
	err := sc.Err()
	if err == nil {
		err = naive.BareBulk(context.Background(), &http.Client{}, url, benchenv.Org, benchenv.Workspace, 101, benchenv.Token, files, 2)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "bare uploader: %v\n", err)
		return 1
	}
	return 0
}

// bareRSS runs the upload floor's child over files against a fresh emulator and
// returns its peak memory (sampled every 20 ms).
func bareRSS(ctx context.Context, files []naive.BareFile) (benchenv.Peak, error) {
	self, err := os.Executable()
	if err != nil {
		return benchenv.Peak{}, fmt.Errorf("bare uploader: %w", err)
	}
	srv := focustest.NewServer(focustest.Options{Token: benchenv.Token})
	defer srv.Close()
	var list strings.Builder
	for _, f := range files {
		list.WriteString(f.Path + "\n")
	}
	cmd := exec.CommandContext(ctx, self)
	cmd.Env = append(os.Environ(), bareEnv+"="+srv.URL)
	cmd.Stdin = strings.NewReader(list.String())
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return benchenv.Peak{}, fmt.Errorf("bare uploader: %w", err)
	}
	peak := benchenv.WatchPeak(cmd.Process.Pid)
	err = cmd.Wait()
	p := <-peak
	if err != nil {
		return benchenv.Peak{}, fmt.Errorf("bare uploader: %w", err)
	}
	if got := len(srv.Attachments(101)); got != len(files) {
		return benchenv.Peak{}, fmt.Errorf("bare uploader: %d attachments for %d files", got, len(files))
	}
	return p, nil
}
