package transfer

import (
	"context"
	"fmt"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/airlift-io/airlift/checksum"
)

// BenchmarkReadHashPart is the per-part hot path of an upload: read a part
// from the file into a pooled buffer, feed BLAKE3, compute the CRC32C.
func BenchmarkReadHashPart(b *testing.B) {
	const size = 64 << 20
	p := filepath.Join(b.TempDir(), "src")
	buf := make([]byte, size)
	rand.New(rand.NewSource(1)).Read(buf)
	if err := os.WriteFile(p, buf, 0o644); err != nil {
		b.Fatal(err)
	}
	pool := NewPool(64 << 20)
	b.SetBytes(size)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		f, _ := os.Open(p)
		h := checksum.NewHasher()
		for off := int64(0); off < size; off += DefaultPartSize {
			part, _ := pool.Get(context.Background(), DefaultPartSize)
			if _, err := io.ReadFull(f, part); err != nil {
				b.Fatal(err)
			}
			h.Write(part)
			_ = checksum.CRC32C(part)
			pool.Put(part)
		}
		_ = h.Hex()
		f.Close()
	}
}

// BenchmarkSmallFile is the per-file hot path for small objects: open,
// read, hash, checksum and check a 16 KiB file through the engine's reader.
func BenchmarkSmallFile(b *testing.B) {
	p := filepath.Join(b.TempDir(), "small")
	data := make([]byte, 16<<10)
	rand.New(rand.NewSource(1)).Read(data)
	os.WriteFile(p, data, 0o644)
	pool := NewPool(1 << 20)
	b.SetBytes(int64(len(data)))
	ctx := context.Background()
	for i := 0; i < b.N; i++ {
		f, err := openFile(Entry{Path: p})
		if err != nil {
			b.Fatal(err)
		}
		buf, _ := pool.Get(ctx, int(f.Stat().Size))
		if err := f.ReadAt(ctx, buf, 0); err != nil {
			b.Fatal(err)
		}
		if err := f.Unchanged(); err != nil {
			b.Fatal(err)
		}
		_ = checksum.Sum(buf)
		_ = checksum.CRC32C(buf)
		pool.Put(buf)
		f.Close()
	}
}

// BenchmarkOpen compares os.Open with openRead for what a small file
// costs around its bytes: open, fstat, one pread, close.
func BenchmarkOpen(b *testing.B) {
	p := filepath.Join(b.TempDir(), "small")
	os.WriteFile(p, make([]byte, 16<<10), 0o644)
	buf := make([]byte, 16<<10)
	for _, c := range []struct {
		name string
		open func(string) (*os.File, error)
	}{{"os.Open", os.Open}, {"openRead", openRead}} {
		b.Run(c.name, func(b *testing.B) {
			for range b.N {
				f, err := c.open(p)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := f.Stat(); err != nil {
					b.Fatal(err)
				}
				if _, err := f.ReadAt(buf, 0); err != nil {
					b.Fatal(err)
				}
				f.Close()
			}
		})
	}
}

func BenchmarkKeyFor(b *testing.B) {
	dst := Location{Bucket: "bucket", Prefix: "datasets/v1/"}
	rel := strings.Repeat("shard-0001/", 4) + "sample-000123.safetensors"
	for i := 0; i < b.N; i++ {
		if _, err := KeyFor(dst, rel, true); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFilterMatch(b *testing.B) {
	f, _ := NewFilter([]string{"**/*.parquet"}, []string{"*.tmp", "cache/**"})
	for i := 0; i < b.N; i++ {
		f.Match("data/2026/11/27/part-00042.parquet")
	}
}

// BenchmarkPack is the client's work per byte of a packed copy, without
// the network: walk and plan the shards (compressing every member to
// learn its frame's size, with zstd), then read each shard front to back
// in parts as the upload stages do (the member BLAKE3s taken on the way),
// hashing each part for the shard as sendParts does (BLAKE3 and CRC32C).
// The files are 16 KiB of text-like bytes, the shape --pack is for.
func BenchmarkPack(b *testing.B) {
	const files, size = 2000, 16 << 10
	root := b.TempDir()
	rng := rand.New(rand.NewSource(1))
	words := strings.Fields("the quick brown fox jumps over a lazy dog while seven zebras eat 1234 apples")
	for i := 0; i < files; i++ {
		var sb strings.Builder
		for sb.Len() < size {
			sb.WriteString(words[rng.Intn(len(words))])
			sb.WriteByte(' ')
		}
		p := filepath.Join(root, fmt.Sprintf("d%02d", i%20), fmt.Sprintf("s%05d.txt", i))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(sb.String()[:size]), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	for _, compress := range []bool{false, true} {
		b.Run(map[bool]string{false: "tar", true: "zstd"}[compress], func(b *testing.B) {
			o := PackOptions{ShardSize: 8 << 20, Compress: compress}
			u, err := NewUploader(nil, "bkt", UploadOptions{Pack: &o}, nil)
			if err != nil {
				b.Fatal(err)
			}
			dst := Location{Bucket: "bkt", Prefix: "ds"}
			part := make([]byte, DefaultPartSize)
			b.SetBytes(files * size)
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := cpuTime()
			for i := 0; i < b.N; i++ {
				s, err := newPackSink(u, *u.o.Pack, dst, "run")
				if err != nil {
					b.Fatal(err)
				}
				src, _ := NewFolder(root, WalkOptions{})
				err = s.Feed(context.Background(), src, dst, func(j Job) error {
					defer j.Done()
					r, err := j.open(context.Background())
					if err != nil {
						return err
					}
					h := checksum.NewHasher()
					if s, ok := r.(streamReader); ok {
						for n := len(part); n == len(part); {
							if n, err = s.ReadNext(context.Background(), part); err != nil {
								return err
							}
							h.Write(part[:n])
							_ = checksum.CRC32C(part[:n])
						}
					} else {
						for off := int64(0); off < j.Entry.Size; off += int64(len(part)) {
							p := part[:min(int64(len(part)), j.Entry.Size-off)]
							if err := r.ReadAt(context.Background(), p, off); err != nil {
								return err
							}
							h.Write(p)
							_ = checksum.CRC32C(p)
						}
					}
					_ = h.Hex()
					return r.Close()
				})
				if err != nil {
					b.Fatal(err)
				}
			}
			// CPU time, not wall time: the machines this runs on are
			// shared, and the question is the work per byte.
			b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N)/(files*size), "cpu-ns/B")
		})
	}
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
