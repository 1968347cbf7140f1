package transfer

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/airlift-io/airlift/internal/outcome"
)

// MaxKeyLen is S3's limit on a key, in bytes of UTF-8.
const MaxKeyLen = 1024

// Location is an S3 bucket and key prefix.
type Location struct {
	Bucket string
	Prefix string // no leading slash; may be "" or end in "/"
}

func (l Location) String() string { return "s3://" + l.Bucket + "/" + l.Prefix }

// IsS3URL reports whether s is written as an s3:// URL.
func IsS3URL(s string) bool { return strings.HasPrefix(strings.ToLower(s), "s3://") }

// ParseLocation parses "s3://bucket[/prefix]".
func ParseLocation(s string) (Location, error) {
	if !IsS3URL(s) {
		return Location{}, fmt.Errorf("%q is not an s3:// URL (want s3://bucket[/prefix])", s)
	}
	rest := s[len("s3://"):]
	bucket, prefix, _ := strings.Cut(rest, "/")
	if err := validBucket(bucket); err != nil {
		return Location{}, fmt.Errorf("%q: %w", s, err)
	}
	if !utf8.ValidString(prefix) {
		return Location{}, fmt.Errorf("%q: prefix is not valid UTF-8", s)
	}
	return Location{Bucket: bucket, Prefix: prefix}, nil
}

// validBucket checks S3's naming rules locally, so that a name no bucket
// can have is refused before any request (servers answer it with a bare
// 400 that reads like a connection problem).
func validBucket(b string) error {
	if b == "" {
		return errors.New("no bucket name")
	}
	if len(b) < 3 || len(b) > 63 {
		return fmt.Errorf("bucket name %q must be 3 to 63 characters", b)
	}
	for _, r := range b {
		switch {
		case r >= 'A' && r <= 'Z':
			return fmt.Errorf("bucket name %q has an upper-case letter %q; S3 bucket names are lower case", b, r)
		case !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '.'):
			return fmt.Errorf("bucket name %q has an invalid character %q (S3 allows a-z, 0-9, '-' and '.')", b, r)
		}
	}
	alnum := func(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }
	switch {
	case !alnum(b[0]) || !alnum(b[len(b)-1]):
		return fmt.Errorf("bucket name %q must begin and end with a letter or digit", b)
	case strings.Contains(b, ".."):
		return fmt.Errorf("bucket name %q has two adjacent dots", b)
	case net.ParseIP(b) != nil:
		return fmt.Errorf("bucket name %q is an IP address", b)
	}
	return nil
}

// Warning says what is odd about l, or "": an empty path segment
// ("s3://bkt//double", "s3://bkt/a//b") makes keys with an empty segment,
// which S3 keeps as written but which many tools, and some servers,
// collapse, so the objects are easily looked for in the wrong place.
func (l Location) Warning() string {
	if strings.HasPrefix(l.Prefix, "/") || strings.Contains(l.Prefix, "//") {
		return fmt.Sprintf("%s has an empty path segment (//): its keys will hold one, and are not those under %s",
			DisplayName(l.String()), DisplayName("s3://"+l.Bucket+"/"+collapseSlashes(l.Prefix)))
	}
	return ""
}

func collapseSlashes(p string) string {
	for strings.Contains(p, "//") {
		p = strings.ReplaceAll(p, "//", "/")
	}
	return strings.TrimPrefix(p, "/")
}

// KeyFor maps a walked file to its object key. For a directory source the
// key is the prefix (as a folder) joined with rel; for a single-file source
// the prefix is the key itself, unless it is empty or ends in "/", in which
// case the file's name is appended (as cp does).
func KeyFor(dst Location, rel string, srcIsDir bool) (string, error) {
	var key string
	switch {
	case srcIsDir && dst.Prefix == "":
		key = rel
	case srcIsDir:
		key = strings.TrimSuffix(dst.Prefix, "/") + "/" + rel
	case dst.Prefix == "" || strings.HasSuffix(dst.Prefix, "/"):
		key = dst.Prefix + rel
	default:
		key = dst.Prefix
	}
	if !utf8.ValidString(key) {
		return "", fmt.Errorf("%s is not valid UTF-8, and S3 keys must be UTF-8", strconv.Quote(rel))
	}
	if len(key) > MaxKeyLen {
		return "", fmt.Errorf("key would be %d bytes, over S3's limit of %d", len(key), MaxKeyLen)
	}
	return key, nil
}

// DisplayKey quotes a key for a one-line message.
func DisplayKey(l Location, key string) string {
	return "s3://" + l.Bucket + "/" + (&url.URL{Path: key}).EscapedPath()
}

// CheckSource makes sure the local source of an upload can be read, so
// that a mistyped path stops the command before anything is contacted.
func CheckSource(src string) error {
	if _, err := os.Stat(src); err != nil {
		return outcome.Usagef("source %s: %v", src, unwrapPathError(err))
	}
	return nil
}

// CheckDownloadDest refuses a download into something that is not a
// folder.
func CheckDownloadDest(dst string) error {
	if fi, err := os.Stat(dst); err == nil && !fi.IsDir() {
		return outcome.Usagef("DST %s exists and is not a folder", dst)
	}
	return nil
}

// DisplayName renders a file name or path for a one-line message: as it
// is when it is valid UTF-8 and holds nothing unprintable, else quoted as
// strconv.Quote does, so that a name's raw bytes never reach a terminal
// and a newline in a name cannot split a report line.
func DisplayName(s string) string {
	if utf8.ValidString(s) && strings.IndexFunc(s, func(r rune) bool { return !unicode.IsPrint(r) && r != ' ' }) < 0 {
		return s
	}
	return strconv.Quote(s)
}
