package syncer

import (
	"errors"
	"strings"

	"github.com/airlift-io/airlift/internal/state"
	"github.com/airlift-io/airlift/transfer"
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
//
// It is also the transfer engine's journal: the engine writes the record
// of every file a pass sends.
type Store interface {
	Iterate(from string, fn func(key string, r Record) error) error
	transfer.Journal
}

var _ Store = (*state.Store)(nil)

var errChunkFull = errors.New("chunk full")

// stateCursor reads the store in chunks, so that no read transaction stays
// open while the run writes (a long read transaction blocks the store's
// writers on some engines) and memory stays bounded. A goroutine reads
// (and decodes) the next chunks while the merge consumes this one, so the
// store's decoding overlaps the walk's system calls.
type stateCursor struct {
	chunks <-chan []kv
	free   chan []kv // chunks read to the end, for the reader to fill again
	stop   chan struct{}
	done   chan struct{}
	buf    []kv
	i      int
	end    bool
	err    error // set before chunks is closed
}

type kv struct {
	key string
	rec Record
}

const stateChunk = 4096

func newStateCursor(st Store, prefix string) *stateCursor {
	ch := make(chan []kv, 2)
	c := &stateCursor{chunks: ch, free: make(chan []kv, 1), stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(c.done)
		defer close(ch)
		from, begun := prefix, false
		for {
			var buf []kv
			select {
			case buf = <-c.free:
				buf = buf[:0]
			default:
				buf = make([]kv, 0, stateChunk)
			}
			last := false
			err := st.Iterate(from, func(k string, r Record) error {
				if begun && k <= from {
					return nil // Iterate starts at from, inclusive
				}
				if !strings.HasPrefix(k, prefix) {
					last = true
					return errChunkFull
				}
				buf = append(buf, kv{k, r})
				if len(buf) >= stateChunk {
					return errChunkFull
				}
				return nil
			})
			if err != nil && !errors.Is(err, errChunkFull) {
				c.err = err
				return
			}
			if len(buf) < stateChunk {
				last = true
			}
			if len(buf) > 0 {
				from, begun = buf[len(buf)-1].key, true
				select {
				case ch <- buf:
				case <-c.stop:
					return
				}
			}
			if last {
				return
			}
		}
	}()
	return c
}

// Peek returns the next record, if any; after the last one, readErr says
// whether the store could be read to the end.
func (c *stateCursor) Peek() (string, Record, bool) {
	for c.i >= len(c.buf) {
		if c.end {
			return "", Record{}, false
		}
		buf, ok := <-c.chunks
		if !ok {
			c.end = true
			return "", Record{}, false
		}
		// Peek hands out copies: nothing refers to a chunk read to its
		// end, and the reader fills it again instead of allocating the
		// next (a chunk is 700 KB; a million records make 244).
		if c.buf != nil {
			select {
			case c.free <- c.buf:
			default:
			}
		}
		c.buf, c.i = buf, 0
	}
	return c.buf[c.i].key, c.buf[c.i].rec, true
}

func (c *stateCursor) Next() { c.i++ }

var _ transfer.Cursor[Record] = (*stateCursor)(nil)

// readErr is the store's read error, once peek has reported the end.
func (c *stateCursor) readErr() error {
	if !c.end {
		return nil
	}
	<-c.done
	return c.err
}

// close stops the reader; the cursor is not used after.
func (c *stateCursor) close() {
	close(c.stop)
	<-c.done
}

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
