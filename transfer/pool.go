package transfer

import (
	"context"
	"math/bits"
	"sync"

	"github.com/airlift-io/airlift/internal/outcome"
	"github.com/airlift-io/airlift/internal/units"
)

// Pool hands out byte buffers under one budget for the whole run: every
// buffer in use or kept for reuse counts against it, so the engine's
// memory is bounded in bytes whatever the mix of small files and parts.
// Buffers come in power-of-two size classes; a request waits while the
// budget is spent, and free buffers of other classes are dropped to make
// room before anyone waits.
type Pool struct {
	budget int64

	mu    sync.Mutex
	used  int64            // bytes allocated: in use plus free
	inUse int64            // bytes handed out and not yet returned
	free  map[int][][]byte // free buffers by class size
	wake  chan struct{}    // closed and replaced whenever bytes come back
	peak  int64            // largest inUse seen, for the summary
}

const minClass = 4 << 10

// NewPool returns a pool that never holds more than budget bytes.
func NewPool(budget int64) *Pool {
	return &Pool{budget: budget, free: map[int][][]byte{}, wake: make(chan struct{})}
}

// Budget is the pool's limit in bytes.
func (p *Pool) Budget() int64 { return p.budget }

// Peak is the most bytes handed out at once.
func (p *Pool) Peak() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.peak
}

func classOf(n int) int {
	if n <= minClass {
		return minClass
	}
	return 1 << bits.Len(uint(n-1))
}

// Get returns a buffer of length n, waiting until the budget allows it.
func (p *Pool) Get(ctx context.Context, n int) ([]byte, error) {
	c := classOf(n)
	if int64(c) > p.budget {
		return nil, outcome.BadOption("MaxMemory", "a %s buffer does not fit in the memory budget of %s (raise {MaxMemory} or lower {PartSize})", units.FormatBytes(int64(n)), units.FormatBytes(p.budget))
	}
	for {
		p.mu.Lock()
		if b := p.tryGet(n, c); b != nil {
			p.mu.Unlock()
			return b, nil
		}
		wake := p.wake
		p.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-wake:
		}
	}
}

// TryGet returns a buffer of length n if the budget allows one now, else
// nil: for a reader that already holds buffers and must not wait for
// memory while holding them.
func (p *Pool) TryGet(n int) []byte {
	c := classOf(n)
	if int64(c) > p.budget {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.tryGet(n, c)
}

// tryGet takes a buffer of class c from the free list or the budget; nil
// when neither has one. Called with mu held.
func (p *Pool) tryGet(n, c int) []byte {
	if fl := p.free[c]; len(fl) > 0 {
		b := fl[len(fl)-1]
		p.free[c] = fl[:len(fl)-1]
		p.take(c)
		return b[:n]
	}
	if p.used+int64(c) > p.budget {
		p.evict(int64(c))
	}
	if p.used+int64(c) <= p.budget {
		p.used += int64(c)
		p.take(c)
		b := make([]byte, n, c)
		adviseHuge(b)
		return b
	}
	return nil
}

func (p *Pool) take(c int) {
	p.inUse += int64(c)
	if p.inUse > p.peak {
		p.peak = p.inUse
	}
}

// evict drops free buffers (largest classes first) until need bytes fit.
// Called with mu held.
func (p *Pool) evict(need int64) {
	for c, fl := range p.free {
		for len(fl) > 0 && p.used+need > p.budget {
			fl = fl[:len(fl)-1]
			p.used -= int64(c)
		}
		p.free[c] = fl
		if p.used+need <= p.budget {
			return
		}
	}
}

// Put returns a buffer obtained from Get.
func (p *Pool) Put(b []byte) {
	if b == nil {
		return
	}
	c := cap(b)
	p.mu.Lock()
	p.inUse -= int64(c)
	p.free[c] = append(p.free[c], b[:c])
	close(p.wake)
	p.wake = make(chan struct{})
	p.mu.Unlock()
}
