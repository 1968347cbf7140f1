package transfer

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// ErrNeedsRestore says an object is archived and cannot be read until a
// restore (aws s3api restore-object) makes a temporary copy of it.
var ErrNeedsRestore = errors.New("archived: it needs a restore before it can be read")

// NeedsRestoreError names the archived object a read could not make.
type NeedsRestoreError struct {
	Key   string
	Class string // as listed, or as the GET's InvalidObjectState said; may be ""
}

func (e *NeedsRestoreError) Error() string {
	in := ""
	if e.Class != "" {
		in = " (" + e.Class + ")"
	}
	return e.Key + in + ": " + ErrNeedsRestore.Error()
}

func (e *NeedsRestoreError) Unwrap() error { return ErrNeedsRestore }

// archivedClass reports whether S3 refuses to read objects of class
// until they are restored. GLACIER_IR objects are read at once.
func archivedClass(class string) bool {
	return class == string(types.StorageClassGlacier) || class == string(types.StorageClassDeepArchive)
}

// restoreOf turns a GET refused with InvalidObjectState (an archived
// object, including Intelligent-Tiering's archive tiers, which a listing
// shows as INTELLIGENT_TIERING) into a *NeedsRestoreError; other errors
// are returned as they are.
func restoreOf(err error, key string) error {
	var ios *types.InvalidObjectState
	if errors.As(err, &ios) {
		return &NeedsRestoreError{Key: key, Class: string(ios.StorageClass)}
	}
	if APIErrorCode(err) == "InvalidObjectState" {
		return &NeedsRestoreError{Key: key}
	}
	return err
}

// readable returns a *NeedsRestoreError for an object listed in GLACIER
// or DEEP_ARCHIVE that has no restored copy yet, so that it is passed
// over without a GET. Only such objects cost a request (one HeadObject,
// whose x-amz-restore says whether a restored copy is ready); an
// object archived where the listing does not show it is caught by the GET
// (restoreOf).
func readable(ctx context.Context, api S3API, bucket string, o Object) error {
	if !archivedClass(o.StorageClass) {
		return nil
	}
	out, err := api.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(o.Key), IfMatch: etagHeader(o.ETag)})
	if err != nil {
		if c := APIErrorCode(err); c == "PreconditionFailed" || c == "412" {
			return fmt.Errorf("HeadObject %s: %w", o.Key, ErrObjectChanged)
		}
		return wrapf(err, "HeadObject %s", o.Key)
	}
	// x-amz-restore: ongoing-request="false", expiry-date="..." once the
	// restored copy is there; "true" while the restore runs.
	if strings.Contains(aws.ToString(out.Restore), `ongoing-request="false"`) {
		return nil
	}
	return &NeedsRestoreError{Key: o.Key, Class: o.StorageClass}
}

// maxRestoreListed bounds the keys a report lists as needing a restore;
// the count stays exact.
const maxRestoreListed = 100 * maxListed

// RestoreList names the objects a run passed over because they need a
// restore first.
type RestoreList struct {
	Keys  []string `json:"needs_restore,omitempty"`
	Count int64    `json:"needs_restore_count,omitempty"`
	mu    sync.Mutex
}

func (l *RestoreList) add(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.Count++
	if len(l.Keys) < maxRestoreListed {
		l.Keys = append(l.Keys, key)
	}
}

func (l *RestoreList) sort() { sort.Strings(l.Keys) }

// RestoreMessage says what to do about them; "" when there are none.
func (l *RestoreList) RestoreMessage() string {
	if l.Count == 0 {
		return ""
	}
	return fmt.Sprintf("%d object(s) are in GLACIER/DEEP_ARCHIVE (or an Intelligent-Tiering archive tier) and need `aws s3api restore-object` first", l.Count)
}
