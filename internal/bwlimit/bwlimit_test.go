package bwlimit

import (
	"context"
	"math"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	cases := []struct {
		in      string
		want    Schedule
		wantErr bool
	}{
		{"", nil, false},
		{"off", nil, false},
		{"1MiB/s", Schedule{{0, 1 << 20}}, false},
		{"08:00,50MiB/s 19:00,off", Schedule{{480, 50 << 20}, {1140, 0}}, false},
		{"19:00,off 08:00,50MiB/s", Schedule{{480, 50 << 20}, {1140, 0}}, false},
		{"25:00,1M", nil, true},
		{"08:00", nil, true},
		{"08:00,fast", nil, true},
	}
	for _, c := range cases {
		got, err := Parse(c.in)
		if (err != nil) != c.wantErr {
			t.Errorf("Parse(%q) err = %v", c.in, err)
			continue
		}
		if len(got) != len(c.want) {
			t.Errorf("Parse(%q) = %v, want %v", c.in, got, c.want)
			continue
		}
		for i := range got {
			if got[i] != c.want[i] {
				t.Errorf("Parse(%q) = %v, want %v", c.in, got, c.want)
			}
		}
	}
}

func TestRateAt(t *testing.T) {
	s, _ := Parse("08:00,50MiB/s 19:00,off")
	day := func(h, m int) time.Time { return time.Date(2026, 1, 1, h, m, 0, 0, time.Local) }
	for _, c := range []struct {
		at   time.Time
		want float64
	}{
		{day(7, 59), 0}, {day(8, 0), 50 << 20}, {day(18, 59), 50 << 20}, {day(19, 0), 0}, {day(23, 0), 0},
	} {
		if got := s.RateAt(c.at); got != c.want {
			t.Errorf("RateAt(%v) = %v, want %v", c.at, got, c.want)
		}
	}
}

func TestLimiterFollowsTimetable(t *testing.T) {
	s, _ := Parse("08:00,1MiB/s 19:00,off")
	clock := time.Date(2026, 1, 1, 9, 0, 0, 0, time.Local)
	l := New(s, func() time.Time { return clock })
	if got := l.Current(); got != 1<<20 {
		t.Fatalf("at 09:00 limit = %v, want 1MiB/s", got)
	}
	clock = clock.Add(10 * time.Hour)
	if got := l.Current(); !math.IsInf(got, 1) {
		t.Fatalf("at 19:00 limit = %v, want unlimited", got)
	}
	if New(nil, nil) != nil {
		t.Fatal("New(nil) should not limit")
	}
}

func TestLimiterRate(t *testing.T) {
	// 4 MiB at 8 MiB/s after the initial burst takes about half a second.
	l := New(Schedule{{0, 8 << 20}}, nil)
	start := time.Now()
	for i := 0; i < 16; i++ {
		if err := l.Wait(context.Background(), 256<<10); err != nil {
			t.Fatal(err)
		}
	}
	if el := time.Since(start); el < 300*time.Millisecond {
		t.Fatalf("4 MiB passed in %v at 8 MiB/s: not limited", el)
	}
}
