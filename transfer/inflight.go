package transfer

import (
	"context"
	"slices"
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
	startFactor   = 2.0                    // each probe asks for this much more until one fails...
	growFactor    = 1.5                    // ...and this much after
	backoffFactor = 0.75                   // on retries
	minWindow     = 200 * time.Millisecond // a rate is measured over at least this long...
	maxWindow     = 2 * time.Second        // ...and at most this, however few requests complete
	probeWindows  = 2                      // a probe's rate is measured over this many windows' time
	maxHold       = 16                     // windows between probes, at most
)

// inflight is a counting semaphore whose limit a controller moves. With
// adaptive false it is a plain semaphore of the fixed limit.
type inflight struct {
	now      func() time.Time
	retries  func() int64 // retries made so far by the client (nil: none seen)
	adaptive bool
	min, max int

	mu      sync.Mutex
	limit   int
	used    int
	waiters []chan struct{} // in the order they came; each closed when given a slot
	peak    int

	// the controller's window: completions since start. Completions
	// before start (it can lie ahead: see settle) are not counted.
	start            time.Time
	need             time.Duration // the window's least length
	work             float64
	completions      int
	retriesAtStart   int64
	baseSum          float64 // rates measured at baseLimit, summed...
	baseN            int     // ...over this many windows; 0: none yet
	baseLimit        int
	probing          bool // the current window runs at a limit above baseLimit
	failed           bool // a probe failed or requests were retried: grow by growFactor, not startFactor
	hold, holdLength int  // windows left before the next probe, and the wait after a failed one
}

// newInflight returns a fixed semaphore of n, or with n == 0 an adaptive
// one starting at AutoConcurrencyStart.
func newInflight(n int, now func() time.Time, retries func() int64) *inflight {
	if now == nil {
		now = time.Now
	}
	l := &inflight{now: now, retries: retries, limit: n, min: n, max: n, holdLength: 4}
	if n <= 0 {
		l.adaptive, l.limit, l.min, l.max = true, AutoConcurrencyStart, 8, AutoConcurrencyMax
		l.need = minWindow
	}
	return l
}

// capacity is the most requests that can ever be in flight: how many
// workers to start.
func (l *inflight) capacity() int { return l.max }

// acquire waits for a slot. Waiters queue in order and each is woken
// only when a slot is handed to it: with up to AutoConcurrencyMax workers
// waiting, waking them all on every completion (a broadcast) cost 15% of
// the client's CPU on 20,000 small files, nearly all of it goroutines
// waking to find the slot taken.
func (l *inflight) acquire(ctx context.Context) error {
	l.mu.Lock()
	if l.used < l.limit && len(l.waiters) == 0 {
		l.take()
		l.mu.Unlock()
		return nil
	}
	w := make(chan struct{})
	l.waiters = append(l.waiters, w)
	l.mu.Unlock()
	select {
	case <-w:
		return nil
	case <-ctx.Done():
		l.mu.Lock()
		defer l.mu.Unlock()
		select {
		case <-w: // granted as ctx ended: hand the slot on
			l.used--
			l.grant()
		default:
			l.waiters = slices.DeleteFunc(l.waiters, func(c chan struct{}) bool { return c == w })
		}
		return ctx.Err()
	}
}

// take counts a slot as used. Called with mu held.
func (l *inflight) take() {
	l.used++
	if l.used > l.peak {
		l.peak = l.used
	}
	if l.adaptive && l.start.IsZero() {
		// The first window is warm-up (connections opening, the walk
		// getting ahead): its rate would make any limit after it look
		// better. It is not counted.
		l.startWindow(l.now(), minWindow, minWindow)
	}
}

// grant hands free slots to the longest waiting. Called with mu held.
func (l *inflight) grant() {
	for l.used < l.limit && len(l.waiters) > 0 {
		w := l.waiters[0]
		l.waiters[0] = nil
		l.waiters = l.waiters[1:]
		l.take()
		close(w)
	}
}

// release frees a slot; work is what the request achieved (see workOf),
// for the controller.
func (l *inflight) release(work float64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.used--
	if l.adaptive {
		if t := l.now(); !t.Before(l.start) {
			l.work += work
			l.completions++
			l.maybeAdjust(t)
		}
	}
	l.grant()
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

// startWindow begins a window of at least need, settle after t. A limit
// that just moved shows in the rate only once the requests started under
// it complete: a window begun at once would mix the old limit's rate into
// the new one's, and more so the longer the round trip (new connections
// pay a handshake first). So the window waits one request's time.
func (l *inflight) startWindow(t time.Time, settle, need time.Duration) {
	l.start, l.need, l.work, l.completions = t.Add(settle), need, 0, 0
	if l.retries != nil {
		l.retriesAtStart = l.retries()
	}
}

// maybeAdjust ends the window once it is long enough to measure a rate
// at the current limit (every request in flight had time to complete
// once), and moves the limit. Called with mu held.
//
// Rates measured over 200 ms through a 50 ms round trip move by 20% or
// more at one limit (the benchmark's proxy, server and client share two
// cores), so a probe is measured over probeWindows windows and compared
// with the mean of every window at the base limit, not with the last one.
func (l *inflight) maybeAdjust(t time.Time) {
	el := t.Sub(l.start)
	// A retry (throttling, resets, 5xx) ends the window at once: the
	// server said too much, and waiting out the window would say it again.
	retried := l.retries != nil && l.retries() > l.retriesAtStart
	if !retried && (el < l.need || (l.completions < l.limit && el < maxWindow)) {
		return
	}
	rate := l.work / el.Seconds()
	// the time a request takes at this limit (Little's law), for settle
	settle := min(maxWindow, time.Duration(float64(l.limit)/(float64(l.completions)/el.Seconds())*float64(time.Second)))
	moved := false
	switch {
	case retried:
		// Throttled or failing: fewer requests, and measure afresh
		// before growing again, later each time.
		l.limit = max(l.min, int(float64(l.limit)*backoffFactor))
		l.baseSum, l.baseN, l.baseLimit, l.probing, l.hold, l.failed = 0, 0, l.limit, false, l.holdLength, true
		l.holdLength = min(l.holdLength*2, maxHold)
		moved = true
	case l.baseN == 0:
		l.baseSum, l.baseN, l.baseLimit = rate, 1, l.limit
	case l.probing && rate >= l.baseSum/float64(l.baseN)*probeGain:
		// More in flight paid: keep it, and try more at once.
		l.baseSum, l.baseN, l.baseLimit, l.probing, l.holdLength = rate, 1, l.limit, false, 4
	case l.probing:
		// It did not: go back, and wait longer before the next try.
		l.limit, l.probing, l.hold, l.failed = l.baseLimit, false, l.holdLength, true
		l.holdLength = min(l.holdLength*2, maxHold)
		l.baseSum, l.baseN = 0, 0 // the rate at the old limit may have moved since
		moved = true
	default:
		l.baseSum += rate
		l.baseN++
		l.hold = max(0, l.hold-1)
	}
	need := minWindow
	if !l.probing && l.hold == 0 && l.baseN > 0 && l.limit < l.max {
		f := startFactor
		if l.failed {
			f = growFactor
		}
		l.limit = min(l.max, int(float64(l.limit)*f+0.5))
		l.probing, moved, need = true, true, probeWindows*minWindow
	}
	if !moved {
		settle = 0
	}
	l.startWindow(t, settle, need)
}
