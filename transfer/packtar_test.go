package transfer

import (
	"archive/tar"
	"bytes"
	"io/fs"
	"strings"
	"testing"
	"time"
)

// archiveTarHeader is what archive/tar writes for the header alone.
func archiveTarHeader(t testing.TB, name string, size, mode, mtime int64) []byte {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	h := &tar.Header{Typeflag: tar.TypeReg, Name: name, Size: size, Mode: mode, ModTime: time.Unix(mtime, 0)}
	if err := tw.WriteHeader(h); err != nil {
		return nil
	}
	return b.Bytes()
}

// TestUSTARHeaderIsArchiveTar: where ustarHeader writes a header, it is
// archive/tar's byte for byte; it declines names archive/tar splits or
// gives a PAX header, numbers that do not fit, and what archive/tar
// refuses (all rendered by archive/tar then).
func TestUSTARHeaderIsArchiveTar(t *testing.T) {
	for _, c := range []struct {
		name              string
		size, mode, mtime int64
		fast              bool
	}{
		{"a.jpg", 0, 0o644, 1_700_000_000, true},
		{"n01440764/img_0001.JPEG", 110592, 0o600, 1_700_000_000, true},
		{strings.Repeat("x", 100), 1, 0o777, 0, true},
		{"max.bin", 1<<33 - 1, 0o7777, 1<<33 - 1, true},
		{strings.Repeat("x", 101), 1, 0o644, 1, false},                 // no slash to split at: PAX
		{"dir/" + strings.Repeat("y", 120) + "/z", 1, 0o644, 1, false}, // split into prefix and name
		{"café.txt", 1, 0o644, 1, false},                               // PAX
		{"big.bin", 1 << 33, 0o644, 1, false},                          // PAX size
		{"old.txt", 1, 0o644, -1, false},                               // PAX time
		{"future.txt", 1, 0o644, 1 << 33, false},                       // PAX time
		{"dir/", 0, 0o644, 1, false},                                   // refused
	} {
		t.Run(c.name, func(t *testing.T) {
			got, ok := ustarHeader(c.name, c.size, c.mode, c.mtime)
			if ok != c.fast {
				t.Fatalf("fast path %v, want %v", ok, c.fast)
			}
			if want := archiveTarHeader(t, c.name, c.size, c.mode, c.mtime); ok && !bytes.Equal(got, want) {
				t.Errorf("header differs from archive/tar's:\n got %q\nwant %q", got, want)
			}
			// The walk plans by the length alone.
			e := Entry{Rel: c.name, Size: c.size, Mode: fs.FileMode(c.mode).Perm(), ModTime: time.Unix(c.mtime, 0)}
			hdr, herr := tarHeader(e)
			n, nerr := tarHeaderLen(e)
			if n != int64(len(hdr)) || (herr == nil) != (nerr == nil) {
				t.Errorf("tarHeaderLen %d, %v; tarHeader gives %d bytes, %v", n, nerr, len(hdr), herr)
			}
		})
	}
}

func FuzzUSTARHeader(f *testing.F) {
	f.Add("a/b.jpg", int64(16384), int64(0o644), int64(1_700_000_000))
	f.Add(strings.Repeat("n", 100), int64(0), int64(0o7777), int64(0))
	f.Add("ü", int64(1), int64(1), int64(1))
	f.Fuzz(func(t *testing.T, name string, size, mode, mtime int64) {
		got, ok := ustarHeader(name, size, mode, mtime)
		if !ok {
			return
		}
		if want := archiveTarHeader(t, name, size, mode, mtime); !bytes.Equal(got, want) {
			t.Errorf("%q %d %o %d: header differs from archive/tar's:\n got %q\nwant %q", name, size, mode, mtime, got, want)
		}
	})
}

func BenchmarkTarHeader(b *testing.B) {
	e := Entry{Rel: "n01440764/img_0001.JPEG", Size: 110592, Mode: 0o644, ModTime: time.Unix(1_700_000_000, 5)}
	b.Run("archive/tar", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			archiveTarHeader(b, e.Rel, e.Size, int64(e.Mode), e.ModTime.Unix())
		}
	})
	b.Run("ustarHeader", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if _, err := tarHeader(e); err != nil {
				b.Fatal(err)
			}
		}
	})
}
