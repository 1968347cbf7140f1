package checksum

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/klauspost/compress/zstd"
)

// ManifestVersion is the format version written in every manifest header.
const ManifestVersion = 1

// ManifestHeader is the first line of a manifest.
type ManifestHeader struct {
	Format  string    `json:"format"` // always "airlift-manifest"
	Version int       `json:"version"`
	RunID   string    `json:"run_id"`
	Created time.Time `json:"created"`
	Source  string    `json:"source,omitempty"`
	Dest    string    `json:"dest"`
}

// ManifestEntry records one object a run wrote. ETag pins the entry to the
// exact object version: a later overwrite by anyone else changes the ETag,
// and the entry then no longer vouches for the object.
type ManifestEntry struct {
	Key    string `json:"key"`
	Size   int64  `json:"size"`
	BLAKE3 string `json:"blake3"`
	ETag   string `json:"etag,omitempty"`
	Parts  int    `json:"parts,omitempty"` // 0 for a single PUT
	MTime  int64  `json:"mtime_ns,omitempty"`
}

// ManifestWriter writes a zstd-compressed JSON-lines manifest: a header
// line, then one entry per line.
type ManifestWriter struct {
	zw  *zstd.Encoder
	enc *json.Encoder
	n   int
}

// NewManifestWriter writes hdr to w and returns a writer for the entries.
func NewManifestWriter(w io.Writer, hdr ManifestHeader) (*ManifestWriter, error) {
	zw, err := zstd.NewWriter(w, zstd.WithEncoderLevel(zstd.SpeedDefault))
	if err != nil {
		return nil, err
	}
	hdr.Format, hdr.Version = "airlift-manifest", ManifestVersion
	mw := &ManifestWriter{zw: zw, enc: json.NewEncoder(zw)}
	mw.enc.SetEscapeHTML(false)
	if err := mw.enc.Encode(hdr); err != nil {
		return nil, err
	}
	return mw, nil
}

// Add appends one entry.
func (m *ManifestWriter) Add(e ManifestEntry) error {
	m.n++
	return m.enc.Encode(e)
}

// Len is the number of entries added.
func (m *ManifestWriter) Len() int { return m.n }

// Close flushes the compressed stream (it does not close the underlying
// writer).
func (m *ManifestWriter) Close() error { return m.zw.Close() }

// ReadManifest decodes a manifest, calling fn for each entry.
func ReadManifest(r io.Reader, fn func(ManifestEntry) error) (ManifestHeader, error) {
	var hdr ManifestHeader
	zr, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1))
	if err != nil {
		return hdr, err
	}
	defer zr.Close()
	dec := json.NewDecoder(bufio.NewReader(zr))
	if err := dec.Decode(&hdr); err != nil {
		return hdr, fmt.Errorf("manifest header: %w", err)
	}
	if hdr.Format != "airlift-manifest" {
		return hdr, errors.New("not an airlift manifest")
	}
	if hdr.Version > ManifestVersion {
		return hdr, fmt.Errorf("manifest version %d is newer than this airlift understands (%d)", hdr.Version, ManifestVersion)
	}
	for {
		var e ManifestEntry
		if err := dec.Decode(&e); err == io.EOF {
			return hdr, nil
		} else if err != nil {
			return hdr, fmt.Errorf("manifest entry: %w", err)
		}
		if err := fn(e); err != nil {
			return hdr, err
		}
	}
}
