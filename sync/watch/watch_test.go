package watch

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fsnotify/fsnotify"
)

// fakeClock is advanced by hand. Every Reset of a timer is announced on
// armed, so a test knows the watch has taken in an event before it moves
// time on.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	timers  []*fakeTimer
	tickers []*fakeTicker
	armed   chan time.Duration
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Unix(1e9, 0), armed: make(chan time.Duration, 100)}
}

type fakeTimer struct {
	c       *fakeClock
	ch      chan time.Time
	due     time.Time
	pending bool
}

type fakeTicker struct {
	c     *fakeClock
	ch    chan time.Time
	every time.Duration
	next  time.Time
	on    bool
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) NewTimer(d time.Duration) Timer {
	t := &fakeTimer{c: c, ch: make(chan time.Time, 1)}
	c.mu.Lock()
	c.timers = append(c.timers, t)
	c.mu.Unlock()
	t.Reset(d)
	return t
}

func (c *fakeClock) NewTicker(d time.Duration) Ticker {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTicker{c: c, ch: make(chan time.Time, 1), every: d, next: c.now.Add(d), on: true}
	c.tickers = append(c.tickers, t)
	return t
}

func (t *fakeTimer) C() <-chan time.Time { return t.ch }

func (t *fakeTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := t.pending
	t.pending = false
	return was
}

func (t *fakeTimer) Reset(d time.Duration) bool {
	t.c.mu.Lock()
	was := t.pending
	t.due, t.pending = t.c.now.Add(d), true
	t.c.fireLocked()
	t.c.mu.Unlock()
	t.c.armed <- d
	return was
}

func (t *fakeTicker) C() <-chan time.Time { return t.ch }
func (t *fakeTicker) Stop() {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	t.on = false
}

// Advance moves time on by d and fires what fell due.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	c.fireLocked()
}

func (c *fakeClock) fireLocked() {
	for _, t := range c.timers {
		if t.pending && !t.due.After(c.now) {
			t.pending = false
			select {
			case t.ch <- c.now:
			default:
			}
		}
	}
	for _, t := range c.tickers {
		for t.on && !t.next.After(c.now) {
			t.next = t.next.Add(t.every)
			select {
			case t.ch <- c.now:
			default:
			}
		}
	}
}

// watchRig runs a watch on a fake clock with events fed by the test.
type watchRig struct {
	t      *testing.T
	clock  *fakeClock
	events chan fsnotify.Event
	passed chan struct{}
	stop   chan struct{}
	done   chan error
	total  atomic.Int32
}

func startWatch(t *testing.T, o Options, pending func() bool) *watchRig {
	r := &watchRig{t: t, clock: newFakeClock(), events: make(chan fsnotify.Event), passed: make(chan struct{}, 100),
		stop: make(chan struct{}), done: make(chan error, 1)}
	o.Clock, o.events, o.Stop, o.Root = r.clock, r.events, r.stop, t.TempDir()
	o.Pass = func(context.Context) bool {
		p := pending != nil && pending()
		r.total.Add(1)
		r.passed <- struct{}{}
		return p
	}
	go func() { r.done <- Run(context.Background(), o) }()
	t.Cleanup(r.end)
	return r
}

// event feeds one file event and waits until the watch has armed its
// debounce for it.
func (r *watchRig) event() {
	r.t.Helper()
	r.events <- fsnotify.Event{Name: "f", Op: fsnotify.Write}
	<-r.clock.armed
}

// pass waits for the next pass; noPass says none has happened.
func (r *watchRig) pass(what string) {
	r.t.Helper()
	select {
	case <-r.passed:
	case <-time.After(30 * time.Second): // a guard against a hang, not a measure
		r.t.Fatalf("no pass for %s", what)
	}
}

func (r *watchRig) noPass(what string) {
	r.t.Helper()
	select {
	case <-r.passed:
		r.t.Fatalf("a pass %s", what)
	default:
	}
}

// passes ends the watch and returns how many passes it made in all: once
// Run has returned no pass can still come, so this count is exact where
// noPass can only see what has already happened.
func (r *watchRig) passes() int {
	r.end()
	return int(r.total.Load())
}

func (r *watchRig) end() {
	select {
	case <-r.stop:
		return
	default:
	}
	close(r.stop)
	r.clock.Advance(0) // wake the loop if it waits on nothing else
	if err := <-r.done; err != nil {
		r.t.Error(err)
	}
}

// A burst of events makes exactly one pass, Debounce after the last one;
// a pass that leaves files pending brings a follow-up after Retry.
func TestWatchDebounces(t *testing.T) {
	pending := false
	var mu sync.Mutex
	r := startWatch(t, Options{Interval: time.Hour, Debounce: 200 * time.Millisecond}, func() bool {
		mu.Lock()
		defer mu.Unlock()
		p := pending
		pending = false
		return p
	})
	<-r.clock.armed // the first pass's timer (0)
	r.pass("the start")
	for i := 0; i < 5; i++ { // a burst, 20 ms apart
		r.event()
		r.clock.Advance(20 * time.Millisecond)
	}
	r.clock.Advance(200*time.Millisecond - 21*time.Millisecond)
	// The loop may still be taking the last Advance in; a pass could only
	// come from a timer that fell due, and none has.
	r.noPass("before the debounce after the last event ran out")
	r.clock.Advance(time.Millisecond)
	r.pass("the burst")
	r.clock.Advance(time.Minute)
	r.noPass("after the one the burst made")

	mu.Lock()
	pending = true // this pass leaves a file pending
	mu.Unlock()
	r.event()
	r.clock.Advance(200 * time.Millisecond)
	r.pass("the event")
	<-r.clock.armed // the follow-up, Retry (= Debounce) later
	r.clock.Advance(200 * time.Millisecond)
	r.pass("the follow-up of a pass that left files pending")
	if n := r.passes(); n != 4 {
		t.Errorf("%d passes, want 4: the start, the burst, the event and its follow-up", n)
	}
}

// Without events (as on NFS) the interval alone drives passes.
func TestWatchRescansOnInterval(t *testing.T) {
	r := startWatch(t, Options{Interval: 150 * time.Millisecond, Debounce: time.Hour}, nil)
	<-r.clock.armed
	r.pass("the start")
	for i := 0; i < 3; i++ {
		r.clock.Advance(150 * time.Millisecond)
		r.pass("an interval")
	}
	if n := r.passes(); n != 4 {
		t.Errorf("%d passes, want the start and one per interval: 4", n)
	}
}

// Continuous events cannot postpone a pass beyond MaxDelay.
func TestWatchChurnDoesNotStarvePasses(t *testing.T) {
	r := startWatch(t, Options{Interval: time.Hour, Debounce: 300 * time.Millisecond, MaxDelay: 600 * time.Millisecond}, nil)
	<-r.clock.armed
	r.pass("the start")
	for round := 0; round < 3; round++ {
		// An event every 50 ms, for MaxDelay: the debounce never runs out,
		// yet the pass comes at MaxDelay after the first event.
		for i := 0; i < 12; i++ {
			r.event()
			r.clock.Advance(50 * time.Millisecond)
		}
		r.pass("600 ms of churn")
	}
	if n := r.passes(); n != 4 {
		t.Errorf("%d passes, want the start and one per 600 ms of churn: 4", n)
	}
}

// With real file events: a folder created after the start is watched,
// and a file written in it brings a pass. Waits are for passes only.
func TestWatchFollowsNewFolders(t *testing.T) {
	root := t.TempDir()
	passed := make(chan struct{}, 100)
	stop := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- Run(context.Background(), Options{
			Root: root, Interval: time.Hour, Debounce: 50 * time.Millisecond, Stop: stop,
			Pass: func(context.Context) bool { passed <- struct{}{}; return false },
		})
	}()
	wait := func(what string) {
		t.Helper()
		select {
		case <-passed:
		case <-time.After(30 * time.Second): // a guard against a hang, not a measure
			t.Fatalf("no pass for %s", what)
		}
	}
	wait("the start")
	sub := filepath.Join(root, "new")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	wait("the new folder")
	// The folder is watched before its pass runs (it is added when its
	// Create event arrives), so this write's event is seen.
	if err := os.WriteFile(filepath.Join(sub, "inside"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	wait("a file in the new folder")
	close(stop)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
