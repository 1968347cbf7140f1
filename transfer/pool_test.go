package transfer

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestPoolNeverExceedsBudget(t *testing.T) {
	const budget = 1 << 20
	p := NewPool(budget)
	var inUse, peak atomic.Int64
	var wg sync.WaitGroup
	sizes := []int{100, 5000, 64 << 10, 256 << 10, 512 << 10, 1 << 20}
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				n := sizes[(g+i)%len(sizes)]
				b, err := p.Get(context.Background(), n)
				if err != nil {
					t.Error(err)
					return
				}
				if len(b) != n {
					t.Errorf("len = %d, want %d", len(b), n)
				}
				c := inUse.Add(int64(cap(b)))
				for {
					old := peak.Load()
					if c <= old || peak.CompareAndSwap(old, c) {
						break
					}
				}
				inUse.Add(-int64(cap(b)))
				p.Put(b)
			}
		}(g)
	}
	wg.Wait()
	if peak.Load() > budget {
		t.Fatalf("buffers in use peaked at %d bytes, over the %d budget", peak.Load(), budget)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.used > budget {
		t.Fatalf("pool holds %d bytes, over the %d budget", p.used, budget)
	}
}

func TestPoolWaitsAndHonoursContext(t *testing.T) {
	p := NewPool(64 << 10)
	a, _ := p.Get(context.Background(), 64<<10)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := p.Get(ctx, 1); err == nil {
		t.Fatal("Get succeeded with the budget spent")
	}
	got := make(chan []byte)
	go func() {
		b, _ := p.Get(context.Background(), 4096)
		got <- b
	}()
	p.Put(a)
	if b := <-got; len(b) != 4096 {
		t.Fatalf("waiter got %d bytes", len(b))
	}
	if _, err := p.Get(context.Background(), 128<<10); err == nil {
		t.Fatal("a buffer larger than the budget was handed out")
	}
}
