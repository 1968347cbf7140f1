package datasync

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/airlift-io/airlift/transfer"
)

// SourceKind is the kind of storage a DataSync agent reads.
type SourceKind string

// Source kinds, named after their URL schemes.
const (
	NFS           SourceKind = "nfs"
	SMB           SourceKind = "smb"
	HDFS          SourceKind = "hdfs"
	ObjectStorage SourceKind = "objectstorage"
)

// IsSourceURL reports whether s names storage only a DataSync agent can
// reach (nfs://, smb://, hdfs://, objectstorage://), which copy hands to
// DataSync rather than reading itself.
func IsSourceURL(s string) bool {
	scheme, _, ok := strings.Cut(s, "://")
	if !ok {
		return false
	}
	switch SourceKind(strings.ToLower(scheme)) {
	case NFS, SMB, HDFS, ObjectStorage:
		return true
	}
	return false
}

// Source is a parsed source URL:
//
//	nfs://server/export/path
//	smb://[user@]server/share/path
//	hdfs://namenode[:8020]/path
//	objectstorage://host[:port]/bucket[/prefix]
type Source struct {
	Kind   SourceKind
	Host   string
	Port   int32  // hdfs and objectstorage; 0 = the protocol's default
	Path   string // subdirectory, always starting with "/"
	User   string // smb and hdfs
	Bucket string // objectstorage
	URL    string // as given
}

// ParseSource parses a DataSync source URL.
func ParseSource(s string) (Source, error) {
	if !IsSourceURL(s) {
		return Source{}, fmt.Errorf("%q is not a DataSync source (want nfs://, smb://, hdfs:// or objectstorage://)", s)
	}
	u, err := url.Parse(s)
	if err != nil {
		return Source{}, fmt.Errorf("source %q: %w", s, err)
	}
	src := Source{Kind: SourceKind(strings.ToLower(u.Scheme)), Host: u.Hostname(), Path: "/" + strings.Trim(u.Path, "/"), URL: s}
	if src.Host == "" {
		return Source{}, fmt.Errorf("source %q: no server name", s)
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n <= 0 || n > 65535 {
			return Source{}, fmt.Errorf("source %q: bad port %q", s, p)
		}
		src.Port = int32(n)
	}
	if u.User != nil {
		if _, has := u.User.Password(); has {
			// A password in a URL ends up in shell history and process
			// listings; DataSync's comes from the environment.
			return Source{}, fmt.Errorf("source %q: do not put a password in the URL; set AIRLIFT_SMB_PASSWORD", redactURL(u))
		}
		src.User = u.User.Username()
	}
	switch src.Kind {
	case NFS:
		if src.Path == "/" {
			return Source{}, fmt.Errorf("source %q: no export path", s)
		}
	case SMB:
		if src.Path == "/" {
			return Source{}, fmt.Errorf("source %q: no share", s)
		}
		if src.User == "" {
			return Source{}, fmt.Errorf("source %q: SMB needs a user (smb://user@server/share)", s)
		}
	case HDFS:
		if src.Port == 0 {
			src.Port = 8020
		}
		if src.User == "" {
			src.User = "hdfs"
		}
	case ObjectStorage:
		b, rest, _ := strings.Cut(strings.TrimPrefix(src.Path, "/"), "/")
		if b == "" {
			return Source{}, fmt.Errorf("source %q: no bucket (objectstorage://host[:port]/bucket[/prefix])", s)
		}
		src.Bucket = b
		src.Path = "/" + rest
	}
	return src, nil
}

func redactURL(u *url.URL) string {
	c := *u
	if c.User != nil {
		c.User = url.User(c.User.Username())
	}
	return c.String()
}

// Dest is the S3 side of a DataSync task.
type Dest struct {
	Bucket string
	Prefix string
}

// ParseDest parses s3://bucket[/prefix].
func ParseDest(s string) (Dest, error) {
	l, err := transfer.ParseLocation(s)
	if err != nil {
		return Dest{}, err
	}
	return Dest{Bucket: l.Bucket, Prefix: l.Prefix}, nil
}

// id is the stable identity airlift tags a resource with, so a second run
// finds it again instead of creating a duplicate. parts must include
// everything that cannot be changed on an existing resource.
func id(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}
