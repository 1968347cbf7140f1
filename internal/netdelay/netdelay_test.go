package netdelay

import (
	"bytes"
	"crypto/rand"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// fakeClock moves only when the test says so; sleepers wake as it passes
// their time. Each sleeper that parks says so on parked, so the test
// advances only once a chunk is really held back, instead of sleeping
// and hoping.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	moved  chan struct{}
	parked chan struct{}
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Unix(1_000_000, 0), moved: make(chan struct{}), parked: make(chan struct{}, 1024)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) SleepUntil(t time.Time, done <-chan struct{}) bool {
	for {
		c.mu.Lock()
		if !c.now.Before(t) {
			c.mu.Unlock()
			return true
		}
		moved := c.moved
		c.mu.Unlock()
		c.parked <- struct{}{}
		select {
		case <-moved:
		case <-done:
			return false
		}
	}
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	close(c.moved)
	c.moved = make(chan struct{})
	c.mu.Unlock()
}

// echoServer answers each connection by echoing everything back, then
// closing its side when the client closes its own.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				io.Copy(c, c)
			}()
		}
	}()
	return ln.Addr().String()
}

// dialThrough starts a proxy with o and returns a connection through it;
// both close when the test ends.
func dialThrough(t *testing.T, o Options) net.Conn {
	t.Helper()
	p, err := Start(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestBytesPassIntactBothWays(t *testing.T) {
	for _, tc := range []struct {
		name   string
		delay  time.Duration
		window int
		size   int
	}{
		{"no delay", 0, 0, 1 << 20},
		{"small delay", time.Millisecond, 0, 3 << 20},
		{"window smaller than the data", time.Millisecond, 64 << 10, 1 << 20},
		{"empty", time.Millisecond, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := dialThrough(t, Options{Upstream: echoServer(t), Delay: tc.delay, Window: tc.window})
			want := make([]byte, tc.size)
			rand.Read(want)
			go func() {
				c.Write(want)
				c.(*net.TCPConn).CloseWrite() // the half-close must reach the server
			}()
			got, err := io.ReadAll(c)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("got %d bytes back, want the %d sent", len(got), len(want))
			}
		})
	}
}

func TestHoldsEachWayForTheDelay(t *testing.T) {
	clk := newFakeClock()
	const d = 25 * time.Millisecond
	c := dialThrough(t, Options{Upstream: echoServer(t), Delay: d, Clock: clk})
	got := make(chan []byte, 1)
	go func() {
		b := make([]byte, 5)
		if _, err := io.ReadFull(c, b); err != nil {
			b = nil
		}
		got <- b
	}()
	if _, err := c.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	// Connect plus the request's trip: three one-way delays before the
	// server sees the first byte, then one more for the echo to return.
	for i := 0; i < 3; i++ {
		<-clk.parked // held back, not delivered
		select {
		case b := <-got:
			t.Fatalf("after %v the client already had %q", time.Duration(i)*d, b)
		default:
		}
		clk.Advance(d)
	}
	<-clk.parked // the echo is held for the way back
	select {
	case b := <-got:
		t.Fatalf("the echo arrived without its delay: %q", b)
	default:
	}
	clk.Advance(d)
	if b := <-got; string(b) != "hello" {
		t.Fatalf("echo %q, want hello", b)
	}
}

func TestRefusesBadOptions(t *testing.T) {
	if _, err := Start(Options{}); err == nil {
		t.Fatal("no upstream: want an error")
	}
	if _, err := Start(Options{Upstream: "127.0.0.1:1", Delay: -time.Second}); err == nil {
		t.Fatal("negative delay: want an error")
	}
}
