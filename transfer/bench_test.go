package transfer

import (
	"context"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

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

// BenchmarkSmallFile is the per-file hot path for small objects: read,
// hash, checksum a 16 KiB file.
func BenchmarkSmallFile(b *testing.B) {
	p := filepath.Join(b.TempDir(), "small")
	data := make([]byte, 16<<10)
	rand.New(rand.NewSource(1)).Read(data)
	os.WriteFile(p, data, 0o644)
	pool := NewPool(1 << 20)
	b.SetBytes(int64(len(data)))
	for i := 0; i < b.N; i++ {
		f, _ := os.Open(p)
		fi, _ := f.Stat()
		buf, _ := pool.Get(context.Background(), int(fi.Size()))
		io.ReadFull(f, buf)
		if err := unchanged(f, fi); err != nil {
			b.Fatal(err)
		}
		_ = checksum.Sum(buf)
		_ = checksum.CRC32C(buf)
		pool.Put(buf)
		f.Close()
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
