package watcher

import (
	"strconv"
	"strings"
)

// formatSize renders a byte count with binary units and at most one decimal:
// "100 MiB", "1.5 GiB", "512 B".
func formatSize(n int64) string {
	const units = "KMGTPE"
	if n < 1024 {
		return strconv.FormatInt(n, 10) + " B"
	}
	v, i := float64(n)/1024, 0
	for v >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	num := strings.TrimSuffix(strconv.FormatFloat(v, 'f', 1, 64), ".0")
	return num + " " + units[i:i+1] + "iB"
}
