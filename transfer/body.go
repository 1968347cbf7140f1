package transfer

import (
	"bytes"
	"io"
	"sync/atomic"
)

// body is a request body over a buffer that counts, into a shared
// counter, how far the HTTP client has read it: progress is counted at a
// reader we own, not inferred from SDK internals. A retry rewinds the body
// (Seek), and the counter goes back with it, so the counter never runs
// ahead of what was really sent; rollback takes back what a failed request
// had counted.
type body struct {
	buf     []byte
	r       *bytes.Reader
	sent    *atomic.Int64
	counted int64
}

func newBody(b []byte, sent *atomic.Int64) *body {
	return &body{buf: b, r: bytes.NewReader(b), sent: sent}
}

func (b *body) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.counted += int64(n)
	b.sent.Add(int64(n))
	return n, err
}

func (b *body) Seek(off int64, whence int) (int64, error) {
	pos, err := b.r.Seek(off, whence)
	if err == nil {
		b.sent.Add(pos - b.counted)
		b.counted = pos
	}
	return pos, err
}

// Len reports the unread length, as bytes.Reader does (the SDK and
// net/http use it to size the request).
func (b *body) Len() int { return b.r.Len() }

// Bytes hands the unread bytes to a client that sends them straight from
// memory (s3client.MemoryBody); they count as sent from then on, and
// rollback takes them back if the request fails.
func (b *body) Bytes() []byte {
	rest := b.buf[len(b.buf)-b.r.Len():]
	_, _ = b.Seek(0, io.SeekEnd)
	return rest
}

func (b *body) rollback() {
	b.sent.Add(-b.counted)
	b.counted = 0
}

var _ io.ReadSeeker = (*body)(nil)
