package plan

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/airlift-io/airlift/internal/units"
)

// ParseDeadline accepts Go durations and whole or fractional days ("14d").
func ParseDeadline(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	t := strings.TrimSpace(strings.ToLower(s))
	if d, ok := strings.CutSuffix(t, "d"); ok {
		n, err := strconv.ParseFloat(d, 64)
		if err != nil || n <= 0 {
			return 0, fmt.Errorf("invalid %q (want e.g. 14d or 36h)", s)
		}
		return time.Duration(n * 24 * float64(time.Hour)), nil
	}
	d, err := time.ParseDuration(t)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("invalid %q (want e.g. 14d or 36h)", s)
	}
	return d, nil
}

// ParseChangeRate parses "50GiB/day", "2GB/h", "300GiB/week" into bytes
// per day.
func ParseChangeRate(s string) (float64, error) {
	if s == "" {
		return 0, nil
	}
	size, per, ok := strings.Cut(strings.TrimSpace(s), "/")
	if !ok {
		return 0, fmt.Errorf("invalid %q (want e.g. 50GiB/day)", s)
	}
	n, err := units.ParseBytes(size)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("invalid %q (want e.g. 50GiB/day)", s)
	}
	switch strings.ToLower(strings.TrimSpace(per)) {
	case "d", "day":
		return float64(n), nil
	case "h", "hour":
		return float64(n) * 24, nil
	case "w", "week":
		return float64(n) / 7, nil
	}
	return 0, fmt.Errorf("invalid period in %q (want /day, /hour or /week)", s)
}
