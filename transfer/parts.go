package transfer

import "fmt"

// S3's multipart limits.
const (
	MinPartSize   = 5 << 20
	MaxPartSize   = 5 << 30
	MaxParts      = 10000
	MaxObjectSize = 5 << 40
	// DefaultPartSize: measured on versitygw, 8 MiB parts with about ten in
	// flight beat 16 MiB parts on both throughput and server CPU, and keep
	// memory low.
	DefaultPartSize = 8 << 20
	// Files of LargeFileSize or more take LargePartSize parts by default
	// (still 16 parts or more each): on the L set (4 x 1 GiB, versitygw on
	// tmpfs, bench/compare, 3 rounds, rotating) 16 MiB parts took
	// 9.08-9.40 s against 10.74-17.46 s with 8 MiB, and the server spent
	// 3.3 CPU-s per GiB against 4.2 (fewer parts to create, hash and join).
	LargeFileSize = 256 << 20
	LargePartSize = 16 << 20
)

// PartPlan is how one file is cut into parts. A file of at most Threshold
// bytes goes as one PutObject (Count 1, Multipart false).
type PartPlan struct {
	Size      int64
	PartSize  int64
	Count     int
	Multipart bool
}

// PlanParts cuts a file of size bytes. want is the user's part size (0 for
// the default); it is raised when needed so that the file fits in 10,000
// parts, and rounded to a whole MiB.
func PlanParts(size, want int64) (PartPlan, error) {
	if size < 0 {
		return PartPlan{}, fmt.Errorf("negative size %d", size)
	}
	if size > MaxObjectSize {
		return PartPlan{}, fmt.Errorf("file is %d bytes, over S3's object limit of 5 TiB", size)
	}
	ps := want
	if ps <= 0 {
		ps = DefaultPartSize
		if size >= LargeFileSize {
			ps = LargePartSize
		}
	}
	if ps < MinPartSize {
		ps = MinPartSize
	}
	if ps > MaxPartSize {
		ps = MaxPartSize
	}
	if size <= ps {
		return PartPlan{Size: size, PartSize: size, Count: 1}, nil
	}
	if min := (size + MaxParts - 1) / MaxParts; ps < min {
		ps = (min + (1<<20 - 1)) &^ (1<<20 - 1)
	}
	n := int((size + ps - 1) / ps)
	return PartPlan{Size: size, PartSize: ps, Count: n, Multipart: true}, nil
}

// Part returns the offset and length of part i (0-based).
func (p PartPlan) Part(i int) (off, n int64) {
	off = int64(i) * p.PartSize
	n = p.PartSize
	if off+n > p.Size {
		n = p.Size - off
	}
	return off, n
}
