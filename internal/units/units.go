// Package units parses and formats the byte sizes and rates that users type
// on the command line ("256MiB", "8M", "100MiB/s", "1Gbps").
package units

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode"
)

// multipliers maps a lower-cased suffix to its factor. Bare K/M/G/T follow
// the habit of rclone and s5cmd and mean binary units, since users type
// them for part sizes and memory budgets.
var multipliers = map[string]float64{
	"": 1, "b": 1,
	"k": 1 << 10, "kb": 1e3, "kib": 1 << 10,
	"m": 1 << 20, "mb": 1e6, "mib": 1 << 20,
	"g": 1 << 30, "gb": 1e9, "gib": 1 << 30,
	"t": 1 << 40, "tb": 1e12, "tib": 1 << 40,
	"p": 1 << 50, "pb": 1e15, "pib": 1 << 50,
}

// ParseBytes parses a size such as "5MiB", "1.5G" or "1048576".
func ParseBytes(s string) (int64, error) {
	t := strings.TrimSpace(s)
	i := strings.IndexFunc(t, func(r rune) bool { return !(unicode.IsDigit(r) || r == '.') })
	num, suf := t, ""
	if i >= 0 {
		num, suf = t[:i], strings.ToLower(strings.TrimSpace(t[i:]))
	}
	m, ok := multipliers[suf]
	if num == "" || !ok {
		return 0, fmt.Errorf("invalid size %q (want a number with an optional unit such as KiB, MiB, GiB, MB, GB)", s)
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || f < 0 || math.IsInf(f*m, 0) || f*m > math.MaxInt64/2 {
		return 0, fmt.Errorf("invalid size %q", s)
	}
	return int64(f * m), nil
}

// ParseRate parses a rate in bytes per second: "100MiB/s", "50M", or a bit
// rate such as "1Gbps" or "100Mbit/s" (decimal, as network links are sold).
func ParseRate(s string) (float64, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	for _, bits := range []struct{ suf string }{{"bps"}, {"bit/s"}, {"bits/s"}} {
		if strings.HasSuffix(t, bits.suf) {
			num := strings.TrimSuffix(t, bits.suf)
			f, err := parseDecimalSI(num)
			if err != nil {
				return 0, fmt.Errorf("invalid rate %q: %v", s, err)
			}
			return f / 8, nil
		}
	}
	t = strings.TrimSuffix(t, "/s")
	n, err := ParseBytes(t)
	if err != nil {
		return 0, fmt.Errorf("invalid rate %q (want e.g. 100MiB/s or 1Gbps)", s)
	}
	return float64(n), nil
}

func parseDecimalSI(num string) (float64, error) {
	m := 1.0
	switch {
	case strings.HasSuffix(num, "k"):
		m, num = 1e3, strings.TrimSuffix(num, "k")
	case strings.HasSuffix(num, "m"):
		m, num = 1e6, strings.TrimSuffix(num, "m")
	case strings.HasSuffix(num, "g"):
		m, num = 1e9, strings.TrimSuffix(num, "g")
	case strings.HasSuffix(num, "t"):
		m, num = 1e12, strings.TrimSuffix(num, "t")
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
	if err != nil || f < 0 {
		return 0, fmt.Errorf("not a number")
	}
	return f * m, nil
}

// FormatBytes renders n with a binary unit, e.g. "1.5 GiB".
func FormatBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 5; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
