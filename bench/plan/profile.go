package plan

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"time"
)

// ProfileVersion is bumped when Profile changes incompatibly.
const ProfileVersion = 1

// Profile is what `airlift bench --save` measured about one link and one
// machine, in the form `plan` and `copy` take it (--bench-profile): the
// settings that worked best and the rates they reached.
type Profile struct {
	Version   int       `json:"version"`
	Created   time.Time `json:"created"`
	Target    string    `json:"target"` // s3://bucket/prefix that was measured
	Endpoint  string    `json:"endpoint,omitempty"`
	RunID     string    `json:"run_id"`
	Hostname  string    `json:"hostname,omitempty"`
	NumCPU    int       `json:"num_cpu"`
	Recommend struct {
		Concurrency int   `json:"concurrency"`
		PartSize    int64 `json:"part_size"`
		MaxMemory   int64 `json:"max_memory"`
	} `json:"recommend"`
	// UploadBytesPerSec is the best throughput the grid reached.
	UploadBytesPerSec float64 `json:"upload_bytes_per_sec"`
	// SmallPutsPerSec is the 16 KiB PUT rate at SmallConcurrency.
	SmallPutsPerSec       float64 `json:"small_puts_per_sec"`
	SmallConcurrency      int     `json:"small_concurrency"`
	PutP50Seconds         float64 `json:"put_p50_seconds"`
	HeadP50Seconds        float64 `json:"head_p50_seconds"`
	Blake3BytesPerSec     float64 `json:"blake3_bytes_per_sec"`
	ZstdBytesPerSec       float64 `json:"zstd_bytes_per_sec"`
	SourceReadBytesPerSec float64 `json:"source_read_bytes_per_sec,omitempty"`
}

// Validate checks that a profile read from disk can drive an estimate.
func (p *Profile) Validate() error {
	if p.Version != ProfileVersion {
		return fmt.Errorf("profile version %d, want %d (run airlift bench --save again)", p.Version, ProfileVersion)
	}
	for name, v := range map[string]float64{"upload_bytes_per_sec": p.UploadBytesPerSec, "small_puts_per_sec": p.SmallPutsPerSec} {
		if !(v > 0) || math.IsInf(v, 0) {
			return fmt.Errorf("profile: %s must be positive and finite, not %v", name, v)
		}
	}
	if p.Recommend.Concurrency < 1 || p.Recommend.PartSize < 1 {
		return fmt.Errorf("profile: recommended concurrency and part size must be positive")
	}
	return nil
}

// SaveProfile writes p as indented JSON.
func SaveProfile(path string, p *Profile) error {
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("saving profile: %w", err)
	}
	return nil
}

// LoadProfile reads and validates a profile written by SaveProfile.
func LoadProfile(path string) (*Profile, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("bench profile: %w", err)
	}
	var p Profile
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("bench profile %s: %w", path, err)
	}
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("bench profile %s: %w", path, err)
	}
	return &p, nil
}

// Link turns a profile into the estimator's view of the network: the
// measured throughput is what a transfer gets, so utilization is 1, and
// the measured small-PUT rate replaces the latency model.
func (p *Profile) Link(from string) Link {
	return Link{
		BytesPerSec: p.UploadBytesPerSec, Utilization: 1,
		RequestLatency: p.PutP50Seconds, Concurrency: max(p.SmallConcurrency, 1),
		PutsPerSec: p.SmallPutsPerSec, From: from,
	}
}
