package config

import (
	"testing"
	"time"
)

func TestParseSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
	}{
		{"1024", 1024}, {"0", 0}, {"100MiB", 100 << 20}, {"100mib", 100 << 20}, {"5MB", 5_000_000},
		{"1.5GiB", 3 << 29}, {"2 KB", 2000}, {"3kib", 3072}, {"7B", 7}, {"1gb", 1e9}, {" 4 MiB ", 4 << 20},
	} {
		got, err := ParseSize(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}
	for _, in := range []string{"", "MiB", "-1", "-5MB", "lots", "5XB", "1e400", "NaN", "0x10", "9999999999TiB", "1_000"} {
		if got, err := ParseSize(in); err == nil {
			t.Errorf("ParseSize(%q) = %d, want an error", in, got)
		}
	}
}

func TestFormatSize(t *testing.T) {
	for _, tc := range []struct {
		in   int64
		want string
	}{{100 << 20, "100MiB"}, {1536 << 10, "1536KiB"}, {1000, "1000B"}, {0, "0B"}, {3 << 30, "3GiB"}} {
		if got := FormatSize(tc.in); got != tc.want {
			t.Errorf("FormatSize(%d) = %q, want %q", tc.in, got, tc.want)
		}
		if back, err := ParseSize(FormatSize(tc.in)); err != nil || back != tc.in {
			t.Errorf("ParseSize(FormatSize(%d)) = %d, %v", tc.in, back, err)
		}
	}
}

func TestParseDuration(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
	}{
		{"3s", 3 * time.Second}, {"10m", 10 * time.Minute}, {"1h30m", 90 * time.Minute}, {"7d", 7 * 24 * time.Hour},
		{"1d12h", 36 * time.Hour}, {"0.5d", 12 * time.Hour}, {"-3s", -3 * time.Second}, {"0", 0},
	} {
		got, err := parseDuration(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("parseDuration(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	for _, in := range []string{"", "d", "3", "soon", "1d-3h", "xd", "1e9d", "--3s", "3 days"} {
		if got, err := parseDuration(in); err == nil {
			t.Errorf("parseDuration(%q) = %v, want an error", in, got)
		}
	}
}

func TestLimit(t *testing.T) {
	for _, tc := range []struct {
		in   any
		want Limit
		str  string
	}{
		{"50%", Limit{Percent: 50}, "50%"}, {"12.5%", Limit{Percent: 12.5}, "12.5%"}, {"100%", Limit{Percent: 100}, "100%"},
		{"20", Limit{Count: 20}, "20"}, {int64(3), Limit{Count: 3}, "3"},
	} {
		got, err := parseLimit(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("parseLimit(%v) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
		if got.String() != tc.str {
			t.Errorf("%+v.String() = %q, want %q", got, got.String(), tc.str)
		}
	}
	for _, tc := range []struct {
		l          Limit
		n, managed int
		want       bool
	}{
		{Limit{Percent: 50}, 10, 10, false}, // a percent does not apply to 10 or fewer
		{Limit{Percent: 50}, 6, 11, true},
		{Limit{Percent: 50}, 5, 11, false},
		{Limit{Percent: 50}, 50, 100, false},
		{Limit{Percent: 50}, 51, 100, true},
		{Limit{Count: 3}, 3, 3, false},
		{Limit{Count: 3}, 4, 100, true},
	} {
		if got := tc.l.Exceeded(tc.n, tc.managed); got != tc.want {
			t.Errorf("%v.Exceeded(%d, %d) = %v, want %v", tc.l, tc.n, tc.managed, got, tc.want)
		}
	}
}
