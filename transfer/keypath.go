package transfer

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"unicode/utf8"
)

// ErrUnsafeKey says an object key cannot be turned into a path below the
// download destination. Keys are untrusted input: real S3 stores "../x"
// as readily as "x".
var ErrUnsafeKey = errors.New("unsafe key")

// KeyToPath maps rel, an object key with the source prefix removed, to a
// slash-separated path below the destination. It refuses, rather than
// cleans, anything that could name a place other than the one the key
// spells: a leading "/", a "." or ".." segment, an empty segment ("a//b"
// would otherwise collide with "a/b"), a backslash (a separator on
// Windows, and a way to smuggle ".." past a reader of the key), NUL, and
// invalid UTF-8. One trailing "/" is allowed and reported in dir: such
// keys are folder markers.
//
// The returned path is always filepath.IsLocal; the caller still writes
// through an os.Root so that symbolic links inside the destination cannot
// lead out of it either.
func KeyToPath(rel string) (p string, dir bool, err error) {
	bad := func(why string) (string, bool, error) {
		return "", false, fmt.Errorf("%w %q: %s; refusing to write it", ErrUnsafeKey, rel, why)
	}
	switch {
	case rel == "":
		return bad("empty name")
	case !utf8.ValidString(rel):
		return bad("not valid UTF-8")
	case strings.IndexByte(rel, 0) >= 0:
		return bad("contains a NUL byte")
	case strings.Contains(rel, `\`):
		return bad("contains a backslash")
	case strings.HasPrefix(rel, "/"):
		return bad("starts with /, an absolute path")
	}
	if strings.HasSuffix(rel, "/") {
		rel, dir = rel[:len(rel)-1], true
		if rel == "" {
			return bad("empty name")
		}
	}
	for _, seg := range strings.Split(rel, "/") {
		switch seg {
		case "":
			return bad("empty path segment (//)")
		case ".", "..":
			return bad(fmt.Sprintf("has a %q segment, which would leave the destination", seg))
		}
	}
	if !filepath.IsLocal(filepath.FromSlash(rel)) {
		return bad("not a local path")
	}
	return rel, dir, nil
}

// pathClaims remembers which local paths a download has given out, so that
// two keys that land on one path (or a file where another key needs a
// folder) are reported instead of one silently replacing the other.
type pathClaims struct {
	kind map[string]byte // 'f' file, 'd' folder
	by   map[string]string
}

func newPathClaims() *pathClaims {
	return &pathClaims{kind: map[string]byte{}, by: map[string]string{}}
}

// claim records that key writes p (a file, or a folder when dir). It
// returns an error naming the key that already owns p or a parent of p.
func (c *pathClaims) claim(p, key string, dir bool) error {
	segs := strings.Split(p, "/")
	for i := 1; i < len(segs); i++ {
		parent := strings.Join(segs[:i], "/")
		switch c.kind[parent] {
		case 'f':
			return fmt.Errorf("needs %q to be a folder, but key %q is a file there; not downloaded", parent, c.by[parent])
		case 0:
			c.kind[parent], c.by[parent] = 'd', key
		}
	}
	want := byte('f')
	if dir {
		want = 'd'
	}
	switch have := c.kind[p]; {
	case have == 0:
		c.kind[p], c.by[p] = want, key
		return nil
	case have == 'd' && dir:
		return nil
	case have == 'd':
		return fmt.Errorf("maps to %q, which key %q needs as a folder; not downloaded", p, c.by[p])
	default:
		return fmt.Errorf("maps to the same local path %q as key %q; not downloaded", p, c.by[p])
	}
}
