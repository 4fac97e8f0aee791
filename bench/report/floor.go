package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/focussync/focussync/bench/internal/benchenv"
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
