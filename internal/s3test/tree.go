package s3test

import (
	"bytes"
	"io/fs"
	"math/rand"
	"os"
	"path/filepath"
	"testing"
)

// Tree writes files (slash-separated relative path -> size) with seeded
// random content under a fresh temporary folder and returns it.
func Tree(t testing.TB, files map[string]int) string {
	t.Helper()
	root := t.TempDir()
	rng := rand.New(rand.NewSource(42))
	for rel, size := range files {
		p := filepath.Join(root, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		b := make([]byte, size)
		rng.Read(b)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// SameTree asserts that got holds exactly the regular files of want, byte
// for byte: nothing missing, nothing extra, nothing but regular files.
func SameTree(t testing.TB, want, got string) {
	t.Helper()
	list := func(root string, strict bool) map[string][]byte {
		m := map[string][]byte{}
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			if !d.Type().IsRegular() {
				if strict {
					t.Errorf("%s: not a regular file", p)
				}
				return nil
			}
			rel, _ := filepath.Rel(root, p)
			b, err := os.ReadFile(p)
			m[rel] = b
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	w, g := list(want, false), list(got, true)
	for rel, b := range w {
		if gb, ok := g[rel]; !ok {
			t.Errorf("%q: missing from the copy", rel)
		} else if !bytes.Equal(b, gb) {
			t.Errorf("%q: content differs (%d vs %d bytes)", rel, len(b), len(gb))
		}
	}
	for rel := range g {
		if _, ok := w[rel]; !ok {
			t.Errorf("%q: in the copy but not in the source", rel)
		}
	}
}
