package transfer

import (
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

// traversalKeys are keys real S3 will store and list, each of which would
// write outside the destination (or somewhere other than it says) if
// joined naively.
var traversalKeys = []string{
	"..", ".", "../x", "a/../../x", "a//../x", "/etc/passwd", "/x", "a/..", "a/./b",
	`..\x`, `a\..\..\x`, "a\x00b", "x/../../../../tmp/pwned", "a//b", "//x", "./x", "../", "\xff\xfe",
}

func TestKeyToPath(t *testing.T) {
	for _, k := range traversalKeys {
		if p, _, err := KeyToPath(k); err == nil {
			t.Errorf("KeyToPath(%q) = %q, want refusal", k, p)
		} else if !strings.Contains(err.Error(), "refusing") {
			t.Errorf("KeyToPath(%q): message %q does not say it refused", k, err)
		}
	}
	for _, c := range []struct {
		key, want string
		dir       bool
	}{
		{"x", "x", false},
		{"a/b/c.bin", "a/b/c.bin", false},
		{"dir/", "dir", true},
		{"café/naïve #?%&+= x", "café/naïve #?%&+= x", false},
		{"...", "...", false},
		{"..x/y..", "..x/y..", false},
		{" lead and trail ", " lead and trail ", false},
	} {
		got, dir, err := KeyToPath(c.key)
		if err != nil || got != c.want || dir != c.dir {
			t.Errorf("KeyToPath(%q) = %q, %v, %v; want %q, %v", c.key, got, dir, err, c.want, c.dir)
		}
	}
}

func TestPathClaims(t *testing.T) {
	c := newPathClaims()
	steps := []struct {
		p, key string
		dir    bool
		ok     bool
	}{
		{"a", "a", false, true},
		{"a", "a/", false, false},     // trailing slash with content: same path
		{"a/b", "a/b", false, false},  // a is a file
		{"d", "d/", true, true},       // folder marker
		{"d/x", "d/x", false, true},   // inside it
		{"d", "d2", false, false},     // a file where a folder is
		{"e/f", "e/f", false, true},   // makes e a folder
		{"e", "e/", true, true},       // a marker for it is fine
		{"e/f", "e//f", false, false}, // twice
	}
	for _, s := range steps {
		err := c.claim(s.p, s.key, s.dir)
		if (err == nil) != s.ok {
			t.Errorf("claim(%q by %q, dir=%v) = %v, want ok=%v", s.p, s.key, s.dir, err, s.ok)
		}
	}
}

// FuzzKeyToPath: whatever the key, an accepted path stays below any root
// it is joined to, and names exactly one place.
func FuzzKeyToPath(f *testing.F) {
	for _, k := range traversalKeys {
		f.Add(k)
	}
	f.Add("a/b/c")
	f.Add("dir/")
	f.Fuzz(func(t *testing.T, key string) {
		p, dir, err := KeyToPath(key)
		if err != nil {
			return
		}
		if !utf8.ValidString(p) || !filepath.IsLocal(filepath.FromSlash(p)) {
			t.Fatalf("KeyToPath(%q) = %q: not local", key, p)
		}
		root := "/dst/root"
		joined := filepath.Join(root, filepath.FromSlash(p))
		if !strings.HasPrefix(joined, root+string(filepath.Separator)) {
			t.Fatalf("KeyToPath(%q) = %q escapes: %s", key, p, joined)
		}
		if filepath.ToSlash(filepath.Clean(filepath.FromSlash(p))) != p {
			t.Fatalf("KeyToPath(%q) = %q is not in clean form, so two keys could name it", key, p)
		}
		want := key
		if dir {
			want = strings.TrimSuffix(key, "/")
		}
		if p != want {
			t.Fatalf("KeyToPath(%q) = %q: changed the name instead of refusing", key, p)
		}
		if strings.ContainsAny(p, "\x00\\") {
			t.Fatalf("KeyToPath(%q) = %q keeps a NUL or backslash", key, p)
		}
	})
}

func TestIsOwnPath(t *testing.T) {
	for rel, want := range map[string]bool{
		".airlift/manifests/r.jsonl.zst": true, "v1/.airlift/manifests/r.jsonl.zst": true,
		".airlift": false, "x.airlift/y": false, "data/.airliftish/z": false, "a/b": false,
	} {
		if IsOwnPath(rel) != want {
			t.Errorf("IsOwnPath(%q) = %v", rel, !want)
		}
	}
}
