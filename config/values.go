package config

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

var sizeUnits = []struct {
	name string
	mult float64
}{
	// Longest first, so that "KiB" is not taken for "B".
	{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30}, {"tib", 1 << 40},
	{"kb", 1e3}, {"mb", 1e6}, {"gb", 1e9}, {"tb", 1e12},
	{"b", 1},
}

// ParseSize parses a size such as "100MiB", "5MB", "1.5GiB" or "1024" (bytes)
// into bytes. Units are case-insensitive: B, KB, KiB, MB, MiB, GB, GiB, TB, TiB
// (KB is 1000 bytes, KiB 1024). Negative sizes are refused.
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	lower := strings.ToLower(t)
	mult := 1.0
	for _, u := range sizeUnits {
		if strings.HasSuffix(lower, u.name) {
			mult = u.mult
			t = strings.TrimSpace(t[:len(t)-len(u.name)])
			break
		}
	}
	if t == "" {
		return 0, fmt.Errorf("parse size %q: no number", s)
	}
	if n, err := strconv.ParseInt(t, 10, 64); err == nil {
		if n < 0 {
			return 0, fmt.Errorf("parse size %q: negative", s)
		}
		if float64(n)*mult > math.MaxInt64 {
			return 0, fmt.Errorf("parse size %q: too large", s)
		}
		return n * int64(mult), nil
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || strings.ContainsAny(t, "xXpP_") {
		return 0, fmt.Errorf("parse size %q: not a number with an optional unit (B, KB, KiB, MB, MiB, GB, GiB)", s)
	}
	if f < 0 {
		return 0, fmt.Errorf("parse size %q: negative", s)
	}
	b := f * mult
	if b >= math.MaxInt64 {
		return 0, fmt.Errorf("parse size %q: too large", s)
	}
	return int64(math.Round(b)), nil
}

// FormatSize returns n bytes in the largest binary unit that divides it
// exactly, e.g. "100MiB", "1536KiB" or "1000B", so that ParseSize reads it back.
func FormatSize(n int64) string {
	for _, u := range []struct {
		name string
		mult int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n != 0 && n%u.mult == 0 {
			return fmt.Sprintf("%d%s", n/u.mult, u.name)
		}
	}
	return fmt.Sprintf("%dB", n)
}

// parseDuration parses Go duration syntax ("90s", "1h30m") with "d" for days
// of 24 hours in front ("2d", "1d12h").
func parseDuration(s string) (time.Duration, error) {
	t := strings.TrimSpace(s)
	neg := strings.HasPrefix(t, "-")
	if neg || strings.HasPrefix(t, "+") {
		t = t[1:]
	}
	var days time.Duration
	if i := strings.IndexByte(t, 'd'); i > 0 {
		n, err := strconv.ParseFloat(t[:i], 64)
		if err != nil || n < 0 || n > 100000 || strings.ContainsAny(t[:i], "xXpPeEiInN_") {
			return 0, fmt.Errorf("not a duration (like \"90s\", \"10m\", \"24h\" or \"7d\")")
		}
		days = time.Duration(n * 24 * float64(time.Hour))
		t = t[i+1:]
	}
	var rest time.Duration
	if t != "" || days == 0 {
		var err error
		if rest, err = time.ParseDuration(t); err != nil || strings.HasPrefix(t, "-") || strings.HasPrefix(t, "+") {
			return 0, fmt.Errorf("not a duration (like \"90s\", \"10m\", \"24h\" or \"7d\")")
		}
	}
	d := days + rest
	if d < days {
		return 0, errors.New("duration too large")
	}
	if neg {
		d = -d
	}
	return d, nil
}

// parseLimit parses a max_delete value: a count (20 or "20") or a percent ("50%").
func parseLimit(v any) (Limit, error) {
	switch x := v.(type) {
	case int64:
		if x <= 0 || x > math.MaxInt32 {
			return Limit{}, fmt.Errorf("must be a positive count or a percent in (0%%, 100%%] (got %d)", x)
		}
		return Limit{Count: int(x)}, nil
	case string:
		t := strings.TrimSpace(x)
		if p, ok := strings.CutSuffix(t, "%"); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
			if err != nil || math.IsNaN(f) || f <= 0 || f > 100 {
				return Limit{}, fmt.Errorf("must be a percent in (0%%, 100%%] (got %q)", x)
			}
			return Limit{Percent: f}, nil
		}
		n, err := strconv.Atoi(t)
		if err != nil || n <= 0 || n > math.MaxInt32 {
			return Limit{}, fmt.Errorf("must be a positive count (\"20\") or a percent (\"50%%\") (got %q)", x)
		}
		return Limit{Count: n}, nil
	default:
		return Limit{}, fmt.Errorf("must be a count (\"20\") or a percent (\"50%%\") (got a %s)", tomlType(v))
	}
}

// parseSizeValue parses a max_file_size value: a size string or a number of bytes.
func parseSizeValue(v any) (int64, error) {
	switch x := v.(type) {
	case int64:
		if x <= 0 {
			return 0, fmt.Errorf("must be greater than 0 (got %d)", x)
		}
		return x, nil
	case string:
		n, err := ParseSize(x)
		if err != nil {
			return 0, fmt.Errorf("must be a size like \"100MiB\", \"5MB\" or \"1024\" (got %q)", x)
		}
		if n <= 0 {
			return 0, fmt.Errorf("must be greater than 0 (got %q)", x)
		}
		return n, nil
	default:
		return 0, fmt.Errorf("must be a size like \"100MiB\" (got a %s)", tomlType(v))
	}
}

// tomlType names the TOML type of a decoded value.
func tomlType(v any) string {
	switch v.(type) {
	case string:
		return "string"
	case int64:
		return "integer"
	case float64:
		return "float"
	case bool:
		return "boolean"
	case []any:
		return "array"
	case map[string]any:
		return "table"
	default:
		return "date or time"
	}
}
