package transfer

import (
	"context"
	"sync"
	"time"
)

// Adaptive concurrency. A small PUT is one round trip plus the server's
// time, so the files per second a fixed number of requests in flight can
// reach is that number over the round trip: 64 in flight top out near
// 1,300 files/s at 50 ms, far below what S3 (or a local server) takes. The
// right number depends on a latency the engine cannot know in advance, so
// it measures: the limit grows while the completion rate grows with it,
// steps back when growing stopped paying, and backs off when requests are
// retried (throttling, resets, 5xx). Memory stays bounded apart from this:
// every request's bytes come from the run's Pool, so a file of 16 KiB
// costs 16 KiB of the budget however many are in flight.
const (
	// AutoConcurrencyStart is where an adaptive run starts: the fixed
	// default that was measured best on a LAN.
	AutoConcurrencyStart = 64
	// AutoConcurrencyMax caps it: enough for 10,000 files/s at a 50 ms
	// round trip; each request in flight also holds a connection.
	AutoConcurrencyMax = 512

	probeGain     = 1.10                   // a larger limit must raise the rate by 10% to be kept
	growFactor    = 1.5                    // each probe asks for this much more
	backoffFactor = 0.75                   // on retries
	minWindow     = 200 * time.Millisecond // a rate is measured over at least this long...
	maxWindow     = 2 * time.Second        // ...and at most this, however few requests complete
	maxHold       = 64                     // windows between probes, at most
)

// inflight is a counting semaphore whose limit a controller moves. With
// adaptive false it is a plain semaphore of the fixed limit.
type inflight struct {
	now      func() time.Time
	retries  func() int64 // retries made so far by the client (nil: none seen)
	adaptive bool
	min, max int

	mu    sync.Mutex
	limit int
	used  int
	wake  chan struct{}
	peak  int

	// the controller's window: completions since start
	start            time.Time
	work             float64
	completions      int
	retriesAtStart   int64
	baseRate         float64 // rate measured at baseLimit; 0: none yet
	baseLimit        int
	probing          bool // the current window runs at a limit above baseLimit
	hold, holdLength int  // windows left before the next probe, and the wait after a failed one
}

// newInflight returns a fixed semaphore of n, or with n == 0 an adaptive
// one starting at AutoConcurrencyStart.
func newInflight(n int, now func() time.Time, retries func() int64) *inflight {
	if now == nil {
		now = time.Now
	}
	l := &inflight{now: now, retries: retries, limit: n, min: n, max: n, wake: make(chan struct{}), holdLength: 4}
	if n <= 0 {
		l.adaptive, l.limit, l.min, l.max = true, AutoConcurrencyStart, 8, AutoConcurrencyMax
	}
	return l
}

// capacity is the most requests that can ever be in flight: how many
// workers to start.
func (l *inflight) capacity() int { return l.max }

// acquire waits for a slot.
func (l *inflight) acquire(ctx context.Context) error {
	for {
		l.mu.Lock()
		if l.used < l.limit {
			l.used++
			if l.used > l.peak {
				l.peak = l.used
			}
			if l.adaptive && l.start.IsZero() {
				l.startWindow(l.now())
			}
			l.mu.Unlock()
			return nil
		}
		wake := l.wake
		l.mu.Unlock()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-wake:
		}
	}
}

// release frees a slot; work is what the request achieved (see workOf),
// for the controller.
func (l *inflight) release(work float64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.used--
	if l.adaptive {
		l.work += work
		l.completions++
		l.maybeAdjust(l.now())
	}
	close(l.wake)
	l.wake = make(chan struct{})
}

// workOf weighs a completed request for the rate: one per request plus
// one per MiB, so that a window of large files does not look slow next
// to one of small files.
func workOf(size int64) float64 { return 1 + float64(size)/(1<<20) }

// Limit and Peak report the current limit and the most in flight at once.
func (l *inflight) Limit() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.limit
}

func (l *inflight) Peak() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.peak
}

func (l *inflight) startWindow(t time.Time) {
	l.start, l.work, l.completions = t, 0, 0
	if l.retries != nil {
		l.retriesAtStart = l.retries()
	}
}

// maybeAdjust ends the window once it is long enough to measure a rate
// at the current limit (every request in flight had time to complete
// once), and moves the limit. Called with mu held.
func (l *inflight) maybeAdjust(t time.Time) {
	el := t.Sub(l.start)
	if el < minWindow || (l.completions < l.limit && el < maxWindow) {
		return
	}
	rate := l.work / el.Seconds()
	retried := l.retries != nil && l.retries() > l.retriesAtStart
	switch {
	case retried:
		// Throttled or failing: fewer requests, and measure afresh
		// before growing again.
		l.limit = max(l.min, int(float64(l.limit)*backoffFactor))
		l.baseRate, l.baseLimit, l.probing, l.hold = 0, l.limit, false, l.holdLength
	case l.baseRate == 0:
		l.baseRate, l.baseLimit = rate, l.limit
	case l.probing && rate >= l.baseRate*probeGain:
		// More in flight paid: keep it, and try more at once.
		l.baseRate, l.baseLimit, l.probing, l.holdLength = rate, l.limit, false, 4
	case l.probing:
		// It did not: go back, and wait longer before the next try.
		l.limit, l.probing, l.hold = l.baseLimit, false, l.holdLength
		l.holdLength = min(l.holdLength*2, maxHold)
		l.baseRate = 0 // the rate at the old limit may have moved since
	case l.hold > 0:
		l.hold--
		l.baseRate = rate
	}
	if !l.probing && l.hold == 0 && l.baseRate > 0 && l.limit < l.max {
		l.limit = min(l.max, int(float64(l.limit)*growFactor+0.5))
		l.probing = true
	}
	l.startWindow(t)
}
