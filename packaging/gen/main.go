// Command gen writes the service files rendered by package packaging
// (focussync.service, focussync.plist) into the packaging directory.
//
//	go generate ./packaging        # or: go run ./packaging/gen -dir packaging
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/focussync/focussync/packaging"
)

func main() {
	dir := flag.String("dir", "packaging", "the packaging directory to write into")
	flag.Parse()
	if err := write(*dir); err != nil {
		fmt.Fprintf(os.Stderr, "gen: %v\n", err)
		os.Exit(1)
	}
}

func write(dir string) error {
	files := packaging.Files()
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		p := filepath.Join(dir, n)
		if err := os.WriteFile(p, []byte(files[n]), 0o644); err != nil {
			return fmt.Errorf("write %s: %w", p, err)
		}
		fmt.Println("wrote", p)
	}
	return nil
}
