package config

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"strings"

	toml "github.com/pelletier/go-toml/v2"
	"github.com/pelletier/go-toml/v2/unstable"
)

// The file's shape. Every key is a pointer (or a nil-able value) so that an
// absent key can be told from one set to its zero value.
type fileConfig struct {
	API      fileAPI      `toml:"api"`
	State    fileState    `toml:"state"`
	Log      fileLog      `toml:"log"`
	Status   fileStatus   `toml:"status"`
	Cluster  fileCluster  `toml:"cluster"`
	Defaults folderKeys   `toml:"defaults"`
	Folders  []fileFolder `toml:"folder"`
}

type fileAPI struct {
	BaseURL        *string `toml:"base_url"`
	OrganizationID *int64  `toml:"organization_id"`
	WorkspaceID    *int64  `toml:"workspace_id"`
	TokenFile      *string `toml:"token_file"`
}

type fileState struct {
	Path *string `toml:"path"`
}

type fileLog struct {
	Level  *string `toml:"level"`
	Format *string `toml:"format"`
}

type fileStatus struct {
	Listen *string `toml:"listen"`
}

// folderKeys are the keys a folder may set and [defaults] may set for all.
type folderKeys struct {
	Recursive    *bool     `toml:"recursive"`
	Include      *[]string `toml:"include"`
	Exclude      *[]string `toml:"exclude"`
	Settle       *string   `toml:"settle"`
	Rescan       *string   `toml:"rescan"`
	Verify       *string   `toml:"verify"`
	Watch        *string   `toml:"watch"`
	Order        *string   `toml:"order"`
	DeleteRemote *bool     `toml:"delete_remote"`
	MaxDelete    any       `toml:"max_delete"`    // "20", 20 or "50%"
	MaxFileSize  any       `toml:"max_file_size"` // "100MiB" or a number of bytes
	Marker       *string   `toml:"marker"`
}

type fileFolder struct {
	Path           *string `toml:"path"`
	TaskID         *int64  `toml:"task_id"`
	OrganizationID *int64  `toml:"organization_id"`
	WorkspaceID    *int64  `toml:"workspace_id"`
	folderKeys
}

// decode parses data strictly into a fileConfig and indexes the lines of its keys.
func decode(data []byte, name string) (*fileConfig, *lineIndex, error) {
	idx := indexLines(data)
	var raw fileConfig
	err := toml.NewDecoder(bytes.NewReader(data)).DisallowUnknownFields().Decode(&raw)
	if err == nil {
		return &raw, idx, nil
	}
	var strict *toml.StrictMissingError
	if errors.As(err, &strict) {
		errs := make([]error, 0, len(strict.Errors))
		for i := range strict.Errors {
			de := &strict.Errors[i]
			line, col := de.Position()
			errs = append(errs, &Error{File: name, Line: line, Column: col, Key: idx.keyPath(de.Key(), line), Msg: "unknown key"})
		}
		return nil, nil, errors.Join(errs...)
	}
	var de *toml.DecodeError
	if errors.As(err, &de) {
		line, col := de.Position()
		return nil, nil, &Error{File: name, Line: line, Column: col, Key: idx.keyPath(de.Key(), line), Msg: decodeMessage(de)}
	}
	return nil, nil, &Error{File: name, Msg: err.Error()}
}

var typeMismatch = regexp.MustCompile(`^cannot decode TOML (\w+) into struct field \S+ of type (\S+)$`)

// decodeMessage rewrites go-toml's messages about Go types in TOML terms.
func decodeMessage(de *toml.DecodeError) string {
	msg := strings.TrimPrefix(de.Error(), "toml: ")
	m := typeMismatch.FindStringSubmatch(msg)
	if m == nil {
		return msg
	}
	want := "a " + m[2]
	switch {
	case m[2] == "int64":
		want = "an integer"
	case m[2] == "string":
		want = "a string"
	case m[2] == "bool":
		want = "a boolean (true or false)"
	case m[2] == "[]string":
		want = "an array of strings"
	case strings.HasPrefix(m[2], "[]"):
		want = "an array of tables ([[" + strings.Join(de.Key(), ".") + "]])"
	case strings.Contains(m[2], "config."):
		want = "a table"
	}
	return fmt.Sprintf("must be %s (got a TOML %s)", want, m[1])
}

// lineIndex maps key paths, as used in Error.Key, to the line they are on.
type lineIndex struct {
	keys    map[string]int // "api.base_url", "folder[2]", "folder[2].settle"
	folders []int          // line of each [[folder]] header
}

// indexLines walks the document's expressions and records where each table
// and key starts. It stops at the first syntax error, which decoding reports.
func indexLines(data []byte) *lineIndex {
	idx := &lineIndex{keys: map[string]int{}}
	var p unstable.Parser
	p.Reset(data)
	prefix := ""
	for p.NextExpression() {
		n := p.Expression()
		line := p.Shape(n.Raw).Start.Line
		switch n.Kind {
		case unstable.Table, unstable.ArrayTable:
			key, first := joinKey(n.Key())
			if first.Valid() {
				line = p.Shape(first.Raw).Start.Line
			}
			prefix = key
			if n.Kind == unstable.ArrayTable && key == "folder" {
				idx.folders = append(idx.folders, line)
				prefix = fmt.Sprintf("folder[%d]", len(idx.folders))
			}
			idx.add(prefix, line)
		case unstable.KeyValue:
			idx.keyValue(&p, prefix, n)
		}
	}
	return idx
}

// keyValue records a key-value node under prefix, and the keys of an inline
// table it holds, including the tables of `folder = [{...}, {...}]`.
func (x *lineIndex) keyValue(p *unstable.Parser, prefix string, n *unstable.Node) {
	key, _ := joinKey(n.Key())
	if prefix != "" {
		key = prefix + "." + key
	}
	line := p.Shape(n.Raw).Start.Line
	x.add(key, line)
	switch v := n.Value(); v.Kind {
	case unstable.InlineTable:
		x.inlineTable(p, key, v)
	case unstable.Array:
		if key != "folder" {
			return
		}
		for it := v.Children(); it.Next(); {
			t := it.Node()
			if t.Kind != unstable.InlineTable {
				continue
			}
			x.folders = append(x.folders, line)
			name := fmt.Sprintf("folder[%d]", len(x.folders))
			x.add(name, line)
			x.inlineTable(p, name, t)
			if first := t.Child(); first.Valid() && first.Raw.Length > 0 {
				// The folder's line is where its first key is.
				l := p.Shape(first.Raw).Start.Line
				x.folders[len(x.folders)-1] = l
				x.keys[name] = l
			}
		}
	}
}

func (x *lineIndex) inlineTable(p *unstable.Parser, prefix string, t *unstable.Node) {
	for it := t.Children(); it.Next(); {
		if kv := it.Node(); kv.Kind == unstable.KeyValue {
			x.keyValue(p, prefix, kv)
		}
	}
}

func joinKey(it unstable.Iterator) (string, *unstable.Node) {
	var parts []string
	var first *unstable.Node
	for it.Next() {
		if first == nil {
			first = it.Node()
		}
		parts = append(parts, string(it.Node().Data))
	}
	return strings.Join(parts, "."), first
}

func (x *lineIndex) add(key string, line int) {
	if _, ok := x.keys[key]; !ok && line > 0 {
		x.keys[key] = line
	}
}

// line returns the line of key, or 0 when it is not in the file.
func (x *lineIndex) line(key string) int {
	if x == nil {
		return 0
	}
	return x.keys[key]
}

// folderLine returns the line of key in folder i (0-based), falling back to
// the folder's [[folder]] header.
func (x *lineIndex) folderLine(i int, key string) int {
	if l := x.line(folderKey(i, key)); l > 0 {
		return l
	}
	if x != nil && i < len(x.folders) {
		return x.folders[i]
	}
	return 0
}

// keyPath turns a go-toml key into a key path, numbering a [[folder]] by the
// last folder header at or before line.
func (x *lineIndex) keyPath(key toml.Key, line int) string {
	if len(key) == 0 || key[0] != "folder" || x == nil {
		return strings.Join(key, ".")
	}
	n := 0
	for i, l := range x.folders {
		if l <= line {
			n = i + 1
		}
	}
	if n == 0 {
		return strings.Join(key, ".")
	}
	return strings.Join(append([]string{fmt.Sprintf("folder[%d]", n)}, key[1:]...), ".")
}

// folderKey returns the key path of key in folder i (0-based): "folder[i+1].key".
func folderKey(i int, key string) string {
	if key == "" {
		return fmt.Sprintf("folder[%d]", i+1)
	}
	return fmt.Sprintf("folder[%d].%s", i+1, key)
}
