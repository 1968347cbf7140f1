package plan

import (
	"testing"
	"time"
)

func TestParseDeadline(t *testing.T) {
	for _, c := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"", 0, true},
		{"14d", 14 * 24 * time.Hour, true},
		{"1.5d", 36 * time.Hour, true},
		{"36h", 36 * time.Hour, true},
		{"90m", 90 * time.Minute, true},
		{"0d", 0, false},
		{"-2h", 0, false},
		{"soon", 0, false},
	} {
		got, err := ParseDeadline(c.in)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("ParseDeadline(%q) = %v, %v; want %v ok=%v", c.in, got, err, c.want, c.ok)
		}
	}
}

func TestParseChangeRate(t *testing.T) {
	gib := float64(1 << 30)
	for _, c := range []struct {
		in   string
		want float64
		ok   bool
	}{
		{"", 0, true},
		{"50GiB/day", 50 * gib, true},
		{"2GiB/h", 48 * gib, true},
		{"70GiB/week", 10 * gib, true},
		{"1TB/d", 1e12, true},
		{"50GiB", 0, false},
		{"50GiB/month", 0, false},
		{"lots/day", 0, false},
		{"0/day", 0, false},
	} {
		got, err := ParseChangeRate(c.in)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("ParseChangeRate(%q) = %v, %v; want %v ok=%v", c.in, got, err, c.want, c.ok)
		}
	}
}
