package transfer

import (
	"context"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/airlift-io/airlift/internal/outcome"
	"github.com/airlift-io/airlift/internal/state"
)

// UploadLedger is the part of the state store that cleanup needs: the
// multipart uploads airlift started for a destination and has not seen
// end, split by whether a journal record still owns them.
type UploadLedger interface {
	Uploads() (owned, orphaned []state.Upload, err error)
	EndUpload(uploadID string) error
	Flush() error
}

var _ UploadLedger = (*state.Store)(nil)

// CleanupOptions shape a cleanup.
type CleanupOptions struct {
	OlderThan time.Duration // leave uploads younger than this alone
	DryRun    bool
	// All also aborts uploads the ledger does not know (another tool's, or
	// airlift's from a state directory since lost); never those a journal
	// record owns.
	All bool
	Now func() time.Time // nil: time.Now
}

// Cleanup actions.
const (
	CleanupAborted    = "aborted"
	CleanupWouldAbort = "would abort"
	CleanupKept       = "kept"
	CleanupFailed     = "failed"
)

// CleanupItem is one open multipart upload under the prefix.
type CleanupItem struct {
	Key       string    `json:"key"`
	UploadID  string    `json:"upload_id"`
	Initiated time.Time `json:"initiated"`
	Action    string    `json:"action"`
	Reason    string    `json:"reason"`
}

// CleanupReport is what Cleanup did.
type CleanupReport struct {
	Items   []CleanupItem `json:"uploads"`
	Aborted int           `json:"aborted"`
	Kept    int           `json:"kept"`
	Failed  int           `json:"failed"`
}

// Cleanup lists the open multipart uploads under prefix in bucket and
// aborts those airlift started that no journal record owns (with
// o.All, any not owned), when older than o.OlderThan. The ledger is
// brought up to date: uploads aborted or gone from the server leave it.
func Cleanup(ctx context.Context, api S3API, bucket, prefix string, ledger UploadLedger, o CleanupOptions) (*CleanupReport, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	now := o.Now()
	owned, orphaned, err := ledger.Uploads()
	if err != nil {
		return nil, journalErr(err)
	}
	isOwned, isOrphan := map[string]bool{}, map[string]bool{}
	for _, u := range owned {
		isOwned[u.ID] = true
	}
	for _, u := range orphaned {
		isOrphan[u.ID] = true
	}
	seen := map[string]bool{}
	rep := &CleanupReport{Items: []CleanupItem{}}
	in := &s3.ListMultipartUploadsInput{Bucket: aws.String(bucket)}
	if prefix != "" {
		in.Prefix = aws.String(prefix)
	}
	for {
		out, err := api.ListMultipartUploads(ctx, in)
		if err != nil {
			return rep, classify(wrapf(err, "ListMultipartUploads s3://%s/%s", bucket, prefix))
		}
		for _, mu := range out.Uploads {
			it := CleanupItem{Key: aws.ToString(mu.Key), UploadID: aws.ToString(mu.UploadId), Initiated: aws.ToTime(mu.Initiated)}
			seen[it.UploadID] = true
			candidate := false
			switch {
			case isOwned[it.UploadID]:
				it.Reason = "a journal record owns it: running the copy again continues it"
			case isOrphan[it.UploadID]:
				it.Reason, candidate = "started by airlift, no journal record owns it", true
			case o.All:
				it.Reason, candidate = "not in this state directory's ledger (--all)", true
			default:
				it.Reason = "not started by airlift with this state directory (use --all to include it)"
			}
			if candidate && now.Sub(it.Initiated) < o.OlderThan {
				candidate = false
				it.Reason += "; younger than --older-than"
			}
			switch {
			case !candidate:
				it.Action = CleanupKept
				rep.Kept++
			case o.DryRun:
				it.Action = CleanupWouldAbort
				rep.Aborted++
			default:
				_, err := api.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String(bucket), Key: mu.Key, UploadId: mu.UploadId})
				if err != nil && APIErrorCode(err) != "NoSuchUpload" {
					it.Action, it.Reason = CleanupFailed, it.Reason+"; abort failed: "+strings.TrimSpace(err.Error())
					rep.Failed++
					break
				}
				it.Action = CleanupAborted
				rep.Aborted++
				if isOrphan[it.UploadID] || isOwned[it.UploadID] {
					if err := ledger.EndUpload(it.UploadID); err != nil {
						return rep, journalErr(err)
					}
				}
			}
			rep.Items = append(rep.Items, it)
		}
		if !aws.ToBool(out.IsTruncated) {
			break
		}
		in.KeyMarker, in.UploadIdMarker = out.NextKeyMarker, out.NextUploadIdMarker
	}
	if !o.DryRun {
		// Ledger entries the server no longer has (completed by a lost
		// response, aborted elsewhere, expired by a lifecycle rule).
		for id := range isOrphan {
			if !seen[id] {
				if err := ledger.EndUpload(id); err != nil {
					return rep, journalErr(err)
				}
			}
		}
	}
	if err := ledger.Flush(); err != nil {
		return rep, journalErr(err)
	}
	return rep, nil
}

// LifecycleRule is the bucket lifecycle configuration (as the JSON that
// `aws s3api put-bucket-lifecycle-configuration` takes) that makes S3
// abort multipart uploads under prefix days after they start, whatever
// happens to airlift or its state directory.
func LifecycleRule(prefix string, days int) map[string]any {
	return map[string]any{"Rules": []any{map[string]any{
		"ID":                             "airlift-abort-incomplete-multipart-uploads",
		"Status":                         "Enabled",
		"Filter":                         map[string]any{"Prefix": prefix},
		"AbortIncompleteMultipartUpload": map[string]any{"DaysAfterInitiation": days},
	}}}
}

// Outcome classifies a finished cleanup: failed when any upload could not
// be aborted.
func (r *CleanupReport) Outcome() error {
	if r.Failed > 0 {
		return outcome.Failedf("%d upload(s) could not be aborted", r.Failed)
	}
	return nil
}
