// Package checksum holds airlift's content fingerprints: the BLAKE3 of a
// whole file (computed once, while its bytes are read for upload, and kept
// with the object) and the per-request CRC32C that S3 checks on arrival.
package checksum

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash/crc32"
	"io"
	"sync"

	"github.com/zeebo/blake3"
)

const (
	// MetaKey is the user-metadata name under which a single-PUT object
	// carries its BLAKE3 (sent as x-amz-meta-blake3, lowercase hex as b3sum
	// prints it).
	MetaKey = "blake3"
	// TagKey is the object tag that carries the BLAKE3 of a multipart
	// object, whose hash is known only after its last part was read.
	TagKey = "airlift-blake3"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// CRC32C returns the base64 big-endian CRC32C of b, the form S3 expects in
// x-amz-checksum-crc32c.
func CRC32C(b []byte) string {
	var out [4]byte
	binary.BigEndian.PutUint32(out[:], crc32.Checksum(b, castagnoli))
	return base64.StdEncoding.EncodeToString(out[:])
}

// Hasher is a streaming BLAKE3 of one file.
type Hasher struct{ h *blake3.Hasher }

// NewHasher returns an empty hasher.
func NewHasher() *Hasher { return &Hasher{h: blake3.New()} }

// Write adds p; it never fails.
func (h *Hasher) Write(p []byte) (int, error) { return h.h.Write(p) }

// Hex returns the 256-bit digest in lowercase hex.
func (h *Hasher) Hex() string { return hex.EncodeToString(h.h.Sum(nil)) }

// Reset empties the hasher for reuse.
func (h *Hasher) Reset() { h.h.Reset() }

// Sum returns the BLAKE3 hex digest of b.
func Sum(b []byte) string {
	s := blake3.Sum256(b)
	return hex.EncodeToString(s[:])
}

// readBufs are SumReader's read buffers: verifying a million small files
// must not allocate (and zero) a megabyte for each.
var readBufs = sync.Pool{New: func() any { b := make([]byte, 1<<20); return &b }}

// SumReader returns the BLAKE3 hex digest of everything r yields and its
// length.
func SumReader(r io.Reader) (string, int64, error) {
	h := NewHasher()
	bp := readBufs.Get().(*[]byte)
	defer readBufs.Put(bp)
	// Hide r's WriterTo (an *os.File has one): CopyBuffer would use it and
	// copy in 32 KiB steps through a fresh buffer, where BLAKE3 hashes
	// large reads faster and the pooled buffer costs nothing per call.
	n, err := io.CopyBuffer(h, struct{ io.Reader }{r}, *bp)
	if err != nil {
		return "", n, err
	}
	return h.Hex(), n, nil
}

// Valid reports whether s looks like a BLAKE3 hex digest.
func Valid(s string) bool {
	if len(s) != 64 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

// ParseValid returns s if it is a well-formed digest, else an error naming
// where it came from.
func ParseValid(s, from string) (string, error) {
	if !Valid(s) {
		return "", fmt.Errorf("%s: %q is not a BLAKE3 hex digest", from, s)
	}
	return s, nil
}
