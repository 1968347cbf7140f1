package transfer

import (
	"context"
	"fmt"
)

// Cursor is a stream of entries in strictly increasing key order (byte
// order, as S3 lists keys and the state store keeps them).
type Cursor[T any] interface {
	// Peek returns the next entry without taking it; ok is false at the
	// end.
	Peek() (key string, v T, ok bool)
	// Next takes the entry Peek returned.
	Next()
}

// Merge pairs two key-ordered streams, the one mechanism behind sync's
// comparison of the state store with the bucket listing and verify's of
// the walk with the listing. It may run in steps (see Until).
type Merge[A, B any] struct {
	a            Cursor[A]
	b            Cursor[B]
	lastA, lastB string
	seenA, seenB bool
}

// NewMerge merges a and b.
func NewMerge[A, B any](a Cursor[A], b Cursor[B]) *Merge[A, B] {
	return &Merge[A, B]{a: a, b: b}
}

// All calls fn for every key left on either side, in key order.
func (m *Merge[A, B]) All(fn func(key string, a *A, b *B) error) error {
	return m.run("", true, fn)
}

// Until calls fn for every key below limit, in key order, and stops
// before the first key at or above it.
func (m *Merge[A, B]) Until(limit string, fn func(key string, a *A, b *B) error) error {
	return m.run(limit, false, fn)
}

// run calls fn with each key and the entry of each side that holds it
// (nil where absent). A side that does not move forward in key order is
// an error: a merge that went on would report entries missing that are
// not.
func (m *Merge[A, B]) run(limit string, all bool, fn func(key string, a *A, b *B) error) error {
	for {
		ka, va, okA := m.a.Peek()
		kb, vb, okB := m.b.Peek()
		if okA && m.seenA && ka <= m.lastA || okB && m.seenB && kb <= m.lastB {
			return fmt.Errorf("out of key order near %q / %q", ka, kb)
		}
		if !okA && !okB {
			return nil
		}
		key := ka
		if !okA || okB && kb < ka {
			key = kb
		}
		if !all && key >= limit {
			return nil
		}
		// fn is given copies made here, where a side holds the key: the
		// peeked values, if their addresses were taken, would be moved to
		// the heap on every step, also the steps that stop at limit.
		var pa *A
		var pb *B
		if okA && ka == key {
			a := va
			pa = &a
			m.a.Next()
			m.lastA, m.seenA = ka, true
		}
		if okB && kb == key {
			b := vb
			pb = &b
			m.b.Next()
			m.lastB, m.seenB = kb, true
		}
		if err := fn(key, pa, pb); err != nil {
			return err
		}
	}
}

// ChanCursor reads a key-ordered stream from a channel; it stops early
// when ctx is done (Peek then reports the end).
type ChanCursor[T any] struct {
	ctx    context.Context
	ch     <-chan T
	key    func(T) string
	head   T
	ok     bool
	primed bool
}

// NewChanCursor reads ch; key gives an entry's key.
func NewChanCursor[T any](ctx context.Context, ch <-chan T, key func(T) string) *ChanCursor[T] {
	return &ChanCursor[T]{ctx: ctx, ch: ch, key: key}
}

func (c *ChanCursor[T]) Peek() (string, T, bool) {
	if !c.primed {
		select {
		case c.head, c.ok = <-c.ch:
		case <-c.ctx.Done():
			c.ok = false
		}
		c.primed = true
	}
	if !c.ok {
		var zero T
		return "", zero, false
	}
	return c.key(c.head), c.head, true
}

func (c *ChanCursor[T]) Next() { c.primed = false }

// SliceCursor is a Cursor over a sorted slice (tests, small listings).
type SliceCursor[T any] struct {
	Items []T
	Key   func(T) string
	i     int
}

func (c *SliceCursor[T]) Peek() (string, T, bool) {
	if c.i >= len(c.Items) {
		var zero T
		return "", zero, false
	}
	return c.Key(c.Items[c.i]), c.Items[c.i], true
}

func (c *SliceCursor[T]) Next() { c.i++ }
