package benchenv

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// Mem is a process's resident memory, from /proc/<pid>/status.
type Mem struct {
	RSS  int64 // VmRSS, bytes
	HWM  int64 // VmHWM (peak RSS), bytes
	Anon int64 // RssAnon: the heap, stacks and other private memory, bytes
	File int64 // RssFile: mapped files (the binary, the state db's mmap), bytes
}

// Peak is the most memory a process held.
type Peak struct {
	RSS  int64 // VmHWM, bytes
	Anon int64 // the highest RssAnon sampled: its own memory, without mapped files, bytes
}

// WatchPeak samples the memory of pid every 20 ms and sends its peak once
// /proc/<pid> no longer reports memory: the process has exited (a zombie has no
// VmHWM) or was reaped by Wait.
func WatchPeak(pid int) <-chan Peak {
	peak := make(chan Peak, 1)
	go func() {
		var p Peak
		for {
			m, err := ReadMem(pid)
			if err != nil {
				peak <- p
				return
			}
			p.RSS, p.Anon = max(p.RSS, m.HWM), max(p.Anon, m.Anon)
			time.Sleep(20 * time.Millisecond)
		}
	}()
	return peak
}

// ReadMem reads VmRSS, VmHWM, RssAnon and RssFile of pid. It fails once the
// process has exited.
func ReadMem(pid int) (Mem, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return Mem{}, fmt.Errorf("read memory of pid %d: %w", pid, err)
	}
	var m Mem
	found := 0
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), ":")
		var dst *int64
		switch k {
		case "VmRSS":
			dst = &m.RSS
		case "VmHWM":
			dst = &m.HWM
		case "RssAnon":
			dst = &m.Anon
		case "RssFile":
			dst = &m.File
		default:
			continue
		}
		f := strings.Fields(v)
		if len(f) != 2 || f[1] != "kB" {
			continue
		}
		n, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			continue
		}
		*dst = n << 10
		if k == "VmRSS" || k == "VmHWM" {
			found++
		}
	}
	if found < 2 {
		return Mem{}, fmt.Errorf("read memory of pid %d: no VmRSS/VmHWM (exited?)", pid)
	}
	return m, nil
}

// clockTicks is USER_HZ, which Linux fixes at 100 on every architecture Go
// supports.
const clockTicks = 100

// CPUSeconds reads the user and system CPU time of pid from /proc/<pid>/stat.
func CPUSeconds(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("read cpu time of pid %d: %w", pid, err)
	}
	// The command name (field 2) may hold spaces: fields are counted after
	// its closing parenthesis.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("read cpu time of pid %d: malformed stat", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	// After ")": state is field 3, utime field 14, stime field 15.
	if len(f) < 13 {
		return 0, fmt.Errorf("read cpu time of pid %d: short stat", pid)
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("read cpu time of pid %d: bad utime/stime", pid)
	}
	return float64(ut+st) / clockTicks, nil
}

// Machine describes the machine: cores, CPU model, memory, Go version, kernel.
func Machine() string {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	memory := "unknown"
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if f := strings.Fields(l); len(f) >= 2 && f[0] == "MemTotal:" {
				if kb, err := strconv.ParseInt(f[1], 10, 64); err == nil {
					memory = fmt.Sprintf("%.1f GiB", float64(kb)/(1<<20))
				}
			}
		}
	}
	kernel := "unknown"
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		kernel = strings.TrimSpace(string(b))
	}
	return fmt.Sprintf("%d cores (nproc), %s, %s memory, %s, Linux %s", runtime.NumCPU(), model, memory, runtime.Version(), kernel)
}

// MiB formats bytes as MiB with one decimal.
func MiB(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

// InotifyWatches counts the inotify watches that pid holds, from the "inotify
// wd:" lines of /proc/<pid>/fdinfo.
func InotifyWatches(pid int) (int, error) {
	dir := fmt.Sprintf("/proc/%d/fdinfo", pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return 0, fmt.Errorf("count inotify watches of pid %d: %w", pid, err)
	}
	n := 0
	for _, e := range ents {
		b, err := os.ReadFile(dir + "/" + e.Name())
		if err != nil {
			continue // closed meanwhile
		}
		n += bytes.Count(b, []byte("inotify wd:"))
	}
	return n, nil
}
