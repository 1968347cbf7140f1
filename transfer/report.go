package transfer

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/airlift-io/airlift/internal/outcome"
)

// Stats are the live counters of a run, updated by the engine and read by
// whoever renders progress. All fields are safe for concurrent use.
type Stats struct {
	FilesFound   atomic.Int64 // files the walk has yielded so far
	BytesFound   atomic.Int64
	WalkDone     atomic.Bool
	FilesDone    atomic.Int64 // files completed (sent, or checked and skipped)
	BytesDone    atomic.Int64 // bytes of completed files
	BytesSent    atomic.Int64 // bytes acknowledged by the target, for progress
	FilesFailed  atomic.Int64
	FilesSkipped atomic.Int64 // unchanged or passed over
	BytesSkipped atomic.Int64
	BytesResumed atomic.Int64 // bytes of parts an interrupted run had sent, found on the server and not sent again
	Retries      *atomic.Int64
}

// CompactionReport says what a compaction of a packed dataset did.
type CompactionReport struct {
	// ShardsRewritten: shards whose live share was below the threshold,
	// their live members moved into ShardsWritten new shards of
	// BytesRewritten bytes (the new shards' size).
	ShardsRewritten int   `json:"shards_rewritten"`
	ShardsWritten   int   `json:"shards_written"`
	BytesRewritten  int64 `json:"bytes_rewritten"`
	MembersMoved    int   `json:"members_moved"`
	// ShardsDeleted: rewritten shards deleted once the new index was
	// written (fewer than ShardsRewritten when a delete failed; the
	// report then warns).
	ShardsDeleted int `json:"shards_deleted"`
	// Index is the index the compaction wrote ("" when nothing was
	// rewritten).
	Index string `json:"index,omitempty"`
}

// Problem names one file that was not transferred and why.
type Problem struct {
	Path string `json:"path"`
	Key  string `json:"key,omitempty"`
	Err  string `json:"error"`
	// Refused: airlift passed the file over by rule (a name S3 cannot
	// store), not because it could not be read.
	Refused bool `json:"refused,omitempty"`
	// RequestID is S3's id of the request that failed, for a support
	// case; Err leaves it out.
	RequestID string `json:"request_id,omitempty"`
}

// problemOf describes a file that failed with err, in the words
// UserMessage uses.
func problemOf(path, key string, err error) Problem {
	return Problem{Path: path, Key: key, Err: UserMessage(err, false), RequestID: RequestID(err)}
}

// Report is the outcome of a run.
type Report struct {
	Source       string    `json:"source"`
	Dest         string    `json:"destination"`
	RunID        string    `json:"run_id"`
	Started      time.Time `json:"started"`
	Seconds      float64   `json:"seconds"`
	Files        int64     `json:"files"`
	Bytes        int64     `json:"bytes"`
	FilesSkipped int64     `json:"files_skipped"`
	BytesSkipped int64     `json:"bytes_skipped"`
	BytesResumed int64     `json:"bytes_resumed,omitempty"`
	Failed       int64     `json:"files_failed"`
	Retries      int64     `json:"retries"`
	// Requests counts the answered requests by S3 operation (of the
	// destination; of the source for a download), the run's preflight
	// (the bucket check) included.
	Requests   map[string]int64 `json:"requests,omitempty"`
	MBps       float64          `json:"mb_per_s"` // of bytes sent by this run (BytesResumed left out)
	PeakBuffer int64            `json:"peak_buffer_bytes"`
	// InFlight is how many files the upload kept in flight (adaptive
	// unless --concurrency fixed it).
	InFlight *InFlight `json:"in_flight,omitempty"`
	// CopiedInServer counts objects the destination's server copied from
	// the source bucket itself; NoBLAKE3 those of them whose source held
	// no BLAKE3 to carry over (copy --hash computes it).
	CopiedInServer int64  `json:"copied_in_server,omitempty"`
	NoBLAKE3       int64  `json:"objects_without_blake3,omitempty"`
	Manifest       string `json:"manifest,omitempty"`
	// Index is the packed dataset's index (copy --pack), Shards the
	// shards it lists.
	Index  string `json:"index,omitempty"`
	Shards int    `json:"shards,omitempty"`
	// ShardsRemoved: shards a compaction rewrote and deleted.
	ShardsRemoved int `json:"shards_removed,omitempty"`
	// Compaction is what a compaction did (compact, or sync --pack
	// with a compaction threshold after its pass).
	Compaction *CompactionReport `json:"compaction,omitempty"`
	DryRun     bool              `json:"dry_run,omitempty"`
	Failures   []Problem         `json:"failures"`
	Skipped    []Problem         `json:"skipped,omitempty"`
	Warnings   []string          `json:"warnings,omitempty"`
	// StorageClasses counts the objects (and bytes) stored by this run
	// in each storage class.
	StorageClasses map[string]ClassCount `json:"storage_classes,omitempty"`
	// Selection is the sample or slice of the source the run took.
	Selection *Selection `json:"subset,omitempty"`
	// RestoreList names the archived objects a download passed over.
	RestoreList

	mu sync.Mutex
}

// InFlight reports the files-in-flight limit of an upload: where an
// adaptive one ended and the most requests that were in flight at once.
type InFlight struct {
	Adaptive bool `json:"adaptive"`
	Final    int  `json:"final_limit"`
	Peak     int  `json:"peak"`
}

const maxListed = 1000 // problems listed in full; the counts stay exact

func (r *Report) fail(p Problem) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.Failures) < maxListed {
		r.Failures = append(r.Failures, p)
	}
}

func (r *Report) skip(p Problem) { listCapped(&r.mu, &r.Skipped, p, maxListed) }

// Warn records a problem that did not fail a file.
func (r *Report) Warn(msg string) { listCapped(&r.mu, &r.Warnings, msg, maxListed) }

// listCapped appends v to *list under mu while the list holds fewer than
// limit entries: a run with a million failures reports counts, not a
// million lines.
func listCapped[T any](mu *sync.Mutex, list *[]T, v T, limit int) {
	mu.Lock()
	defer mu.Unlock()
	if len(*list) < limit {
		*list = append(*list, v)
	}
}

// stored counts an object the run stored in class.
func (r *Report) stored(class string, size int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.StorageClasses == nil {
		r.StorageClasses = map[string]ClassCount{}
	}
	c := r.StorageClasses[class]
	c.Objects++
	c.Bytes += size
	r.StorageClasses[class] = c
}

// finish fills the totals from st.
func (r *Report) finish(st *Stats) {
	r.Seconds = time.Since(r.Started).Seconds()
	r.Files = st.FilesDone.Load()
	r.Bytes = st.BytesDone.Load()
	r.FilesSkipped = st.FilesSkipped.Load()
	r.BytesSkipped = st.BytesSkipped.Load()
	r.BytesResumed = st.BytesResumed.Load()
	r.Failed = st.FilesFailed.Load()
	if st.Retries != nil {
		r.Retries = st.Retries.Load()
	}
	if r.Seconds > 0 {
		// Bytes an interrupted run had sent are in Bytes (the files are
		// complete) but took no time now: the rate is of this run's.
		r.MBps = float64(max(r.Bytes-r.BytesResumed, 0)) / 1e6 / r.Seconds
	}
}

// Outcome classifies a copy or download that returned r and err: the one
// place that decides how the run ended (see internal/outcome).
func (r *Report) Outcome(err error) error {
	if err != nil {
		return runOutcome(err, "interrupted; run the same command again to continue")
	}
	if r != nil && r.Failed > 0 {
		return outcome.Failedf("%d file(s) failed", r.Failed)
	}
	if r != nil && r.RestoreList.Count > 0 {
		return outcome.Failedf("%d object(s) need a restore first", r.RestoreList.Count)
	}
	return nil
}

// runOutcome classifies a run that stopped with err: interrupted by a
// signal, or failed as a whole.
func runOutcome(err error, interrupted string) error {
	if canceled(err) {
		return outcome.Interruptedf("%s", interrupted)
	}
	return outcome.As(outcome.Failed, err)
}
