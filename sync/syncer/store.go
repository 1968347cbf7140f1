package syncer

import (
	"errors"
	"strings"

	"github.com/airlift-io/airlift/internal/state"
)

// Record is the state store's record of one object key.
type Record = state.Record

// Store is the per-destination state the sync compares the source with:
// the transfer journal (internal/state), of which a sync needs only this.
//
// Iterate calls fn for every record whose key is >= from, in byte order
// of the key, until fn returns an error (which Iterate returns). Put and
// Delete may be batched by the store but must be durable after Close.
// All methods must be safe for concurrent use.
type Store interface {
	Iterate(from string, fn func(key string, r Record) error) error
	Put(key string, r Record) error
	Delete(key string) error
}

var _ Store = (*state.Store)(nil)

var errChunkFull = errors.New("chunk full")

// stateCursor reads the store in chunks, so that no read transaction stays
// open while the run writes (a long read transaction would block the
// store's writers on some engines), and memory stays bounded.
type stateCursor struct {
	st     Store
	prefix string // keys outside it belong to another destination
	chunk  int
	buf    []kv
	i      int
	last   string
	begun  bool
	done   bool
	err    error
}

type kv struct {
	key string
	rec Record
}

func newStateCursor(st Store, prefix string) *stateCursor {
	c := &stateCursor{st: st, prefix: prefix, chunk: 4096, last: prefix}
	c.fill()
	return c
}

func (c *stateCursor) fill() {
	c.buf, c.i = c.buf[:0], 0
	if c.done || c.err != nil {
		return
	}
	from, begun := c.last, c.begun
	err := c.st.Iterate(from, func(k string, r Record) error {
		if begun && k <= from {
			return nil // Iterate starts at from, inclusive
		}
		if !strings.HasPrefix(k, c.prefix) {
			c.done = true
			return errChunkFull
		}
		c.buf = append(c.buf, kv{k, r})
		if len(c.buf) >= c.chunk {
			return errChunkFull
		}
		return nil
	})
	if err != nil && !errors.Is(err, errChunkFull) {
		c.err = err
	}
	if len(c.buf) < c.chunk {
		c.done = true
	}
	if len(c.buf) > 0 {
		c.last, c.begun = c.buf[len(c.buf)-1].key, true
	}
}

// peek returns the next record, if any.
func (c *stateCursor) peek() (kv, bool) {
	if c.i >= len(c.buf) {
		if c.done || c.err != nil {
			return kv{}, false
		}
		c.fill()
		if c.i >= len(c.buf) {
			return kv{}, false
		}
	}
	return c.buf[c.i], true
}

func (c *stateCursor) next() { c.i++ }

// empty reports whether st holds no record at or after from.
func empty(st Store, from string) (bool, error) {
	found := false
	err := st.Iterate(from, func(k string, _ Record) error {
		if !strings.HasPrefix(k, from) {
			return errChunkFull
		}
		found = true
		return errChunkFull
	})
	if err != nil && !errors.Is(err, errChunkFull) {
		return false, err
	}
	return !found, nil
}
