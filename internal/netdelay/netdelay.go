// Package netdelay is a TCP proxy on 127.0.0.1 that adds a fixed one-way
// delay to every byte in both directions, like `tc qdisc ... netem delay`
// on a kernel that has no netem. Benchmarks put it between a client and a
// local S3 server to see how a tool behaves over the 10-80 ms round trip
// between a data centre and an AWS region, which loopback hides.
//
// What it models: each chunk read from one side is written to the other
// Delay after it was read, in order, so a request-response exchange costs
// one round trip (2 x Delay) more than on loopback; a new connection costs
// a further round trip before its first byte moves (the TCP handshake);
// and each direction of a connection holds at most Window bytes in
// flight, as a TCP window does, so one connection's throughput is bounded
// by Window / Delay the way the bandwidth-delay product bounds it on a
// real link. It does not model loss or a bandwidth cap.
package netdelay

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// DefaultWindow is the bytes in flight per direction of one connection:
// Linux's default maximum TCP receive window (net.ipv4.tcp_rmem) is 6 MiB.
const DefaultWindow = 6 << 20

const chunkSize = 32 << 10

// Clock is the time the proxy delays by; a test passes one it advances.
type Clock interface {
	Now() time.Time
	// SleepUntil returns when the clock reaches t, or false when done
	// closes first.
	SleepUntil(t time.Time, done <-chan struct{}) bool
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

// SleepUntil sleeps without a timer channel (one per chunk was a large
// share of the proxy's CPU, which a benchmark takes from the tools it
// measures); a wait is at most Delay, so Close is noticed soon enough.
func (realClock) SleepUntil(t time.Time, done <-chan struct{}) bool {
	if d := time.Until(t); d > 0 {
		time.Sleep(d)
	}
	select {
	case <-done:
		return false
	default:
		return true
	}
}

// buffers recycles chunk buffers: allocating 32 KiB per read made the
// proxy spend as much CPU as the client it stands in front of.
var buffers = sync.Pool{New: func() any { return new([chunkSize]byte) }}

// Options configure a Proxy. Upstream is required.
type Options struct {
	Listen   string        // address to listen on; "": 127.0.0.1:0
	Upstream string        // host:port every connection is forwarded to
	Delay    time.Duration // one way; a round trip costs twice this
	Window   int           // bytes in flight per direction; 0: DefaultWindow
	Clock    Clock         // nil: the real clock
}

// Proxy forwards connections to Upstream with the delay added.
type Proxy struct {
	o    Options
	ln   net.Listener
	done chan struct{}
	wg   sync.WaitGroup

	mu    sync.Mutex
	conns map[net.Conn]struct{}
}

// Start listens and serves until Close.
func Start(o Options) (*Proxy, error) {
	if o.Upstream == "" {
		return nil, errors.New("netdelay: no upstream address")
	}
	if o.Delay < 0 {
		return nil, fmt.Errorf("netdelay: negative delay %v", o.Delay)
	}
	if o.Listen == "" {
		o.Listen = "127.0.0.1:0"
	}
	if o.Window <= 0 {
		o.Window = DefaultWindow
	}
	if o.Clock == nil {
		o.Clock = realClock{}
	}
	ln, err := net.Listen("tcp", o.Listen)
	if err != nil {
		return nil, fmt.Errorf("netdelay: %w", err)
	}
	p := &Proxy{o: o, ln: ln, done: make(chan struct{}), conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.serve()
	return p, nil
}

// Addr is the address clients connect to.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Close stops listening and drops every connection.
func (p *Proxy) Close() error {
	select {
	case <-p.done:
		return nil
	default:
	}
	close(p.done)
	err := p.ln.Close()
	p.mu.Lock()
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
	return err
}

func (p *Proxy) track(c net.Conn, add bool) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if add {
		select {
		case <-p.done:
			return false
		default:
		}
		p.conns[c] = struct{}{}
	} else {
		delete(p.conns, c)
	}
	return true
}

func (p *Proxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return // closed
		}
		p.wg.Add(1)
		go p.handle(c)
	}
}

func (p *Proxy) handle(client net.Conn) {
	defer p.wg.Done()
	accepted := p.o.Clock.Now()
	up, err := net.Dial("tcp", p.o.Upstream)
	if err != nil {
		client.Close()
		return
	}
	if !p.track(client, true) || !p.track(up, true) {
		client.Close()
		up.Close()
		return
	}
	defer func() {
		p.track(client, false)
		p.track(up, false)
		client.Close()
		up.Close()
	}()
	// The handshake: SYN and SYN-ACK cross before the client's first
	// byte can leave, so what it sends first arrives three one-way delays
	// after connect, not one.
	ready := accepted.Add(2 * p.o.Delay)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); p.pipe(up, client, ready) }()
	go func() { defer wg.Done(); p.pipe(client, up, accepted) }()
	wg.Wait()
}

type chunk struct {
	b   []byte
	buf *[chunkSize]byte // b's buffer, back to the pool once written
	due time.Time
	eof bool
}

// pipe copies src to dst, each chunk Delay after it was read (or after
// notBefore, if it was read earlier: it could not have left sooner), with at most Window bytes read but not yet written.
func (p *Proxy) pipe(dst, src net.Conn, notBefore time.Time) {
	window := make(chan struct{}, p.o.Window/chunkSize+1)
	queue := make(chan chunk, cap(window)+1)
	stop := make(chan struct{})
	go func() {
		defer close(queue)
		for {
			select {
			case window <- struct{}{}:
			case <-stop:
				return
			case <-p.done:
				return
			}
			buf := buffers.Get().(*[chunkSize]byte)
			b := buf[:]
			n, err := src.Read(b)
			sent := p.o.Clock.Now()
			if sent.Before(notBefore) {
				sent = notBefore
			}
			due := sent.Add(p.o.Delay)
			if n > 0 {
				queue <- chunk{b: b[:n], buf: buf, due: due}
			} else {
				buffers.Put(buf)
				<-window
			}
			if err != nil {
				queue <- chunk{eof: err == io.EOF, due: due}
				return
			}
		}
	}()
	defer close(stop)
	for c := range queue {
		if !p.o.Clock.SleepUntil(c.due, p.done) {
			return
		}
		if c.b == nil {
			if c.eof {
				// The sender closed its side: pass the half-close on, so
				// the other side's response still flows back.
				if tc, ok := dst.(*net.TCPConn); ok {
					tc.CloseWrite()
					continue
				}
			}
			dst.Close()
			src.Close()
			return
		}
		_, err := dst.Write(c.b)
		buffers.Put(c.buf)
		if err != nil {
			src.Close()
			return
		}
		<-window
	}
}
