package transfer

import (
	"github.com/airlift-io/airlift/internal/outcome"
	"github.com/airlift-io/airlift/internal/units"
)

// Sizing is how much a run keeps in flight and in memory; uploads,
// downloads and verify take it alike and check it in one place.
type Sizing struct {
	// PartSize is the multipart part (or ranged GET) size; 0:
	// DefaultPartSize (an upload raises it to fit 10,000 parts).
	PartSize  int64
	MaxMemory int64 // bytes for all buffers; 0: DefaultMaxMemory
	// Concurrency is how many files are in flight; 0: the engine's default.
	Concurrency     int
	PartConcurrency int // parts (or ranged GETs) in flight across the run; 0: 16
}

// normalize fills the defaults and checks that one part fits the memory
// budget.
func (s *Sizing) normalize(defaultConcurrency int) error {
	if s.MaxMemory == 0 {
		s.MaxMemory = DefaultMaxMemory
	}
	if s.Concurrency <= 0 {
		s.Concurrency = defaultConcurrency
	}
	if s.PartConcurrency <= 0 {
		s.PartConcurrency = 16
	}
	ps := s.PartSize
	if ps == 0 {
		ps = DefaultPartSize
	}
	if ps < MinPartSize || ps > MaxPartSize {
		return outcome.BadOption("PartSize", "part size %s is outside what S3 accepts (5 MiB to 5 GiB)", units.FormatBytes(ps))
	}
	if need := int64(classOf(int(ps))); s.MaxMemory < need {
		return outcome.BadOption("MaxMemory", "memory budget %s is smaller than one part buffer (%s for %s parts)",
			units.FormatBytes(s.MaxMemory), units.FormatBytes(need), units.FormatBytes(ps))
	}
	return nil
}
