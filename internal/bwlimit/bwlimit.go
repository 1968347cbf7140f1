// Package bwlimit shares the on-premise link: a byte-rate limit that may
// follow a daily timetable ("08:00,50MiB/s 19:00,off"), applied to every
// connection the S3 client opens.
package bwlimit

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/airlift-io/airlift/internal/units"
)

// Slot is one timetable entry: from Start (minutes after local midnight)
// the rate is Rate bytes per second; 0 means unlimited.
type Slot struct {
	Start int
	Rate  float64
}

// Schedule is a daily timetable, sorted by Start. A single slot at 0 is a
// constant limit.
type Schedule []Slot

// Parse reads "100MiB/s" (constant), "off", or a timetable of
// "HH:MM,RATE" entries separated by spaces.
func Parse(s string) (Schedule, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "off" || s == "0" {
		return nil, nil
	}
	if !strings.Contains(s, ",") {
		r, err := units.ParseRate(s)
		if err != nil {
			return nil, fmt.Errorf("--bwlimit: %w", err)
		}
		return Schedule{{Start: 0, Rate: r}}, nil
	}
	var sch Schedule
	for _, f := range strings.Fields(s) {
		at, rs, ok := strings.Cut(f, ",")
		if !ok {
			return nil, fmt.Errorf("--bwlimit: timetable entry %q: want HH:MM,RATE", f)
		}
		var hh, mm int
		if n, err := fmt.Sscanf(at, "%d:%d", &hh, &mm); n != 2 || err != nil || hh < 0 || hh > 23 || mm < 0 || mm > 59 {
			return nil, fmt.Errorf("--bwlimit: timetable entry %q: bad time %q", f, at)
		}
		var r float64
		if rs != "off" {
			var err error
			if r, err = units.ParseRate(rs); err != nil {
				return nil, fmt.Errorf("--bwlimit: timetable entry %q: %w", f, err)
			}
		}
		sch = append(sch, Slot{Start: hh*60 + mm, Rate: r})
	}
	sort.Slice(sch, func(i, j int) bool { return sch[i].Start < sch[j].Start })
	return sch, nil
}

// RateAt returns the limit in force at t (0 = unlimited). Before the first
// slot of the day the last slot of the previous day still holds.
func (s Schedule) RateAt(t time.Time) float64 {
	if len(s) == 0 {
		return 0
	}
	m := t.Hour()*60 + t.Minute()
	r := s[len(s)-1].Rate
	for _, sl := range s {
		if sl.Start <= m {
			r = sl.Rate
		}
	}
	return r
}

// Limiter hands out byte tokens at the schedule's current rate. The zero
// value and a nil *Limiter do not limit.
type Limiter struct {
	sched Schedule
	now   func() time.Time

	mu   sync.Mutex
	cur  float64
	last time.Time
	lim  *rate.Limiter
}

// burst bounds how far a connection may run ahead; small enough that a
// limit is honoured within a few percent over a minute.
const burst = 256 << 10

// New returns a limiter for sched, or nil when sched never limits. now is
// the clock (time.Now in production; tests inject their own).
func New(sched Schedule, now func() time.Time) *Limiter {
	limited := false
	for _, sl := range sched {
		limited = limited || sl.Rate > 0
	}
	if !limited {
		return nil
	}
	if now == nil {
		now = time.Now
	}
	l := &Limiter{sched: sched, now: now, lim: rate.NewLimiter(rate.Inf, burst)}
	l.refresh()
	return l
}

// refresh re-reads the timetable at most once a second.
func (l *Limiter) refresh() *rate.Limiter {
	l.mu.Lock()
	defer l.mu.Unlock()
	t := l.now()
	if !l.last.IsZero() && t.Sub(l.last) < time.Second && t.After(l.last) {
		return l.lim
	}
	l.last = t
	r := l.sched.RateAt(t)
	if r != l.cur || l.last.IsZero() {
		l.cur = r
		if r <= 0 {
			l.lim.SetLimit(rate.Inf)
		} else {
			l.lim.SetLimit(rate.Limit(r))
		}
	}
	return l.lim
}

// Wait blocks until n bytes may pass.
func (l *Limiter) Wait(ctx context.Context, n int) error {
	if l == nil {
		return nil
	}
	lim := l.refresh()
	for n > 0 {
		c := n
		if c > burst {
			c = burst
		}
		if err := lim.WaitN(ctx, c); err != nil {
			return err
		}
		n -= c
	}
	return nil
}

// Current returns the limit now in force in bytes per second (+Inf when
// unlimited).
func (l *Limiter) Current() float64 {
	if l == nil {
		return math.Inf(1)
	}
	lim := l.refresh()
	if lim.Limit() == rate.Inf {
		return math.Inf(1)
	}
	return float64(lim.Limit())
}

// ConstantRate is the one rate of a schedule that has one (0: no limit);
// a timetable has none (DataSync takes one rate per execution).
func (s Schedule) ConstantRate() (int64, error) {
	switch len(s) {
	case 0:
		return 0, nil
	case 1:
		return int64(s[0].Rate), nil
	}
	return 0, errors.New("one constant rate is needed here, not a timetable")
}
