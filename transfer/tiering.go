package transfer

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// ClassRule sets the storage class of the objects whose source file is
// older than Age by its last access (atime) or modification (mtime):
// `atime>180d=GLACIER_IR`. S3's lifecycle rules see only an object's age
// in S3; the source's times say how long ago the data was last used.
type ClassRule struct {
	Atime bool // false: mtime
	Age   time.Duration
	Class string
}

// ParseClassRule parses "atime>180d=GLACIER_IR" or "mtime>365d=DEEP_ARCHIVE"
// (ages in d, h or m).
func ParseClassRule(s string) (ClassRule, error) {
	bad := func(why string) (ClassRule, error) {
		return ClassRule{}, fmt.Errorf("storage class rule %q: %s (want e.g. atime>180d=GLACIER_IR)", s, why)
	}
	cond, class, ok := strings.Cut(s, "=")
	if !ok {
		return bad("no =CLASS")
	}
	field, age, ok := strings.Cut(cond, ">")
	if !ok {
		return bad("no >AGE")
	}
	var r ClassRule
	switch strings.TrimSpace(field) {
	case "atime":
		r.Atime = true
	case "mtime":
	default:
		return bad("the time is atime or mtime")
	}
	age = strings.TrimSpace(age)
	if n, err := strconv.ParseFloat(strings.TrimSuffix(age, "d"), 64); strings.HasSuffix(age, "d") && err == nil && n >= 0 {
		r.Age = time.Duration(n * 24 * float64(time.Hour))
	} else if d, err := time.ParseDuration(age); err == nil && d >= 0 {
		r.Age = d
	} else {
		return bad("the age is a count of days (180d) or a duration (36h)")
	}
	r.Class = strings.TrimSpace(class)
	if !ValidStorageClass(r.Class) {
		return bad("unknown storage class " + strconv.Quote(r.Class))
	}
	return r, nil
}

// String is the rule as given.
func (r ClassRule) String() string {
	f := "mtime"
	if r.Atime {
		f = "atime"
	}
	return fmt.Sprintf("%s>%s=%s", f, r.Age, r.Class)
}

// ClassOf is the storage class of an object from e at now: the first of
// rules that matches, else def, else STANDARD. An entry with no atime
// (an object-store source) matches no atime rule.
func ClassOf(rules []ClassRule, def string, e Entry, now time.Time) string {
	for _, r := range rules {
		t := e.ModTime
		if r.Atime {
			if e.Atime == 0 {
				continue
			}
			t = time.Unix(0, e.Atime)
		}
		if !t.IsZero() && now.Sub(t) > r.Age {
			return r.Class
		}
	}
	if def != "" {
		return def
	}
	return string(types.StorageClassStandard)
}

// ClassCount is how many objects and bytes a run stored in one class.
type ClassCount struct {
	Objects int64 `json:"objects"`
	Bytes   int64 `json:"bytes"`
}
