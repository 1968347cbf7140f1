package transfer

import (
	"container/heap"
	"context"
	"testing"
	"time"
)

// link is a simulated server behind a round trip: one queue that serves
// capacity requests per second, and rtt added to every request. With it
// the controller is tested on its own clock, deterministically: the test
// keeps the limit's worth of requests in flight, and moves the clock to
// each completion.
type link struct {
	rtt      time.Duration
	capacity float64 // requests per second the server takes
	// throttleAbove, when set, makes the server answer SlowDown (a retry)
	// to requests arriving while more than this many are in flight.
	throttleAbove int
}

type completion struct {
	at time.Time
}

type byTime []completion

func (h byTime) Len() int           { return len(h) }
func (h byTime) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h byTime) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *byTime) Push(x any)        { *h = append(*h, x.(completion)) }
func (h *byTime) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// run sends n requests through l over the link and returns the rate of
// the last half (requests per second) and the limit at the end.
func (k link) run(t *testing.T, l *inflight, now *time.Time, retries *int64, n int) (rate float64, limit int) {
	t.Helper()
	var q byTime
	serverFree := *now
	service := time.Duration(float64(time.Second) / k.capacity)
	var halfAt time.Time
	for done := 0; done < n; {
		for l.used < l.limit {
			if err := l.acquire(context.Background()); err != nil {
				t.Fatal(err)
			}
			if k.throttleAbove > 0 && l.used > k.throttleAbove {
				*retries++ // answered SlowDown, then retried by the client
			}
			arrive := now.Add(k.rtt / 2)
			start := arrive
			if serverFree.After(start) {
				start = serverFree
			}
			serverFree = start.Add(service)
			heap.Push(&q, completion{at: serverFree.Add(k.rtt / 2)})
		}
		c := heap.Pop(&q).(completion)
		*now = c.at
		l.release(workOf(16 << 10))
		done++
		if done == n/2 {
			halfAt = *now
		}
	}
	return float64(n-n/2) / now.Sub(halfAt).Seconds(), l.Limit()
}

func TestInflightFollowsTheRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name               string
		link               link
		minLimit, maxLimit int
		minRate            float64
	}{
		// Loopback: 64 in flight already keep the server busy, so growing
		// does not pay and the limit stays where it started, near 64.
		{"loopback", link{rtt: 500 * time.Microsecond, capacity: 2700}, 64, 96, 2500},
		// 50 ms away from a server that takes 2,000/s: 64 in flight give
		// at most 1,280/s; the limit must grow past the 100 the link needs.
		{"50 ms round trip", link{rtt: 50 * time.Millisecond, capacity: 2000}, 100, AutoConcurrencyMax, 1800},
		// 80 ms away from a fast server (S3): it grows to the cap.
		{"80 ms, fast server", link{rtt: 80 * time.Millisecond, capacity: 20000}, 324, AutoConcurrencyMax, 4000},
		// A server that throttles past 120 requests in flight: it must
		// settle under that however much faster more would be.
		{"throttled", link{rtt: 50 * time.Millisecond, capacity: 20000, throttleAbove: 120}, 40, 120, 900},
	} {
		t.Run(tc.name, func(t *testing.T) {
			now := time.Unix(1_000_000, 0)
			var retries int64
			l := newInflight(0, func() time.Time { return now }, func() int64 { return retries })
			rate, limit := tc.link.run(t, l, &now, &retries, 60_000)
			t.Logf("limit %d, rate %.0f/s", limit, rate)
			if limit < tc.minLimit || limit > tc.maxLimit {
				t.Errorf("limit ended at %d, want %d..%d (rate %.0f/s)", limit, tc.minLimit, tc.maxLimit, rate)
			}
			if rate < tc.minRate {
				t.Errorf("rate %.0f/s over the second half, want at least %.0f (limit %d)", rate, tc.minRate, limit)
			}
		})
	}
}

func TestInflightFixedDoesNotMove(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	l := newInflight(32, func() time.Time { return now }, nil)
	rate, limit := link{rtt: 50 * time.Millisecond, capacity: 20000}.run(t, l, &now, new(int64), 10_000)
	if limit != 32 || l.capacity() != 32 {
		t.Fatalf("a fixed limit of 32 moved to %d (capacity %d)", limit, l.capacity())
	}
	if want := 32 / 0.05; rate > want*1.01 {
		t.Fatalf("rate %.0f/s is above what 32 in flight can give at 50 ms (%.0f)", rate, want)
	}
}

func TestInflightWaitsAndHonoursCancel(t *testing.T) {
	l := newInflight(1, nil, nil)
	if err := l.acquire(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	got := make(chan error, 1)
	go func() { got <- l.acquire(ctx) }()
	cancel()
	if err := <-got; err != context.Canceled {
		t.Fatalf("acquire on a full semaphore after cancel: %v, want context.Canceled", err)
	}
	l.release(1)
	if err := l.acquire(context.Background()); err != nil {
		t.Fatalf("after a release: %v", err)
	}
	if l.Peak() != 1 {
		t.Fatalf("peak %d, want 1", l.Peak())
	}
}
