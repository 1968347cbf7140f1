// Package syncer runs one incremental sync pass of a local tree into an
// S3 prefix, judged from local state: a streaming merge of the key-ordered
// walk against the state store's key-ordered records (and, when
// reconciling or adopting, the bucket listing). A pass where nothing
// changed reads the tree and the store and makes no request per object.
package syncer

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"golang.org/x/sync/errgroup"

	"github.com/airlift-io/airlift/internal/outcome"
	"github.com/airlift-io/airlift/internal/state"
	"github.com/airlift-io/airlift/transfer"
)

// AdoptMode says how a first sync treats objects already in the prefix.
type AdoptMode int

const (
	// AdoptOff uploads every file the state does not know.
	AdoptOff AdoptMode = iota
	// AdoptMeta records an existing object without uploading it when its
	// size matches and its stored BLAKE3 (manifest, metadata or tag)
	// equals the local file's.
	AdoptMeta
	// AdoptDeep also reads an object back once to hash it when no BLAKE3
	// is stored with it.
	AdoptDeep
)

// ParseAdopt parses the --adopt flag.
func ParseAdopt(s string) (AdoptMode, error) {
	switch s {
	case "off", "none":
		return AdoptOff, nil
	case "", "meta", "on":
		return AdoptMeta, nil
	case "deep":
		return AdoptDeep, nil
	}
	return AdoptOff, outcome.BadOption("Adopt", "{Adopt} must be off, meta or deep, not %q", s)
}

// Options shape a sync pass.
type Options struct {
	Source string // a directory, or the name of From
	// From, when set, is the source instead of the folder Source: an S3
	// prefix, whose changes are judged from its listing (size,
	// LastModified and ETag against the state), with no request per
	// object. --checksum and adoption cannot hash its objects locally:
	// such objects are sent.
	From   transfer.Source
	Dest   transfer.Location
	Upload transfer.UploadOptions // engine options; Walk selects the files

	Checksum  bool      // re-hash files whose metadata is unchanged
	Reconcile bool      // list the bucket and repair drift
	Adopt     AdoptMode // used when the state is empty, and with Reconcile

	Delete bool
	// MaxDelete caps deletions (-1: unset); MaxDeletePercent caps them as
	// a share of the tracked objects (0: unset). With neither, more than
	// half the tracked objects is refused unless Force.
	MaxDelete        int64
	MaxDeletePercent float64
	Force            bool
	DryRun           bool

	// Settle passes over files changed less than this long ago (by mtime
	// or ctime): they may still be being written. They count as pending.
	Settle time.Duration
	// Stop, when closed, starts no new file; files in flight finish.
	Stop <-chan struct{}
	// Checkers is how many files are hashed at once (--checksum,
	// adoption); 0: 8.
	Checkers int
	Now      func() time.Time
	// OnEvent, when set, is told of every upload, adoption and deletion
	// (planned ones too in a dry run). It may be called concurrently.
	OnEvent func(Event)
	Stats   *transfer.Stats // live counters of the engine; may be nil
}

// Event is one thing a pass did or, in a dry run, would do.
type Event struct {
	Kind   string // "upload", "adopt", "delete"
	Key    string
	Path   string
	Size   int64
	DryRun bool
}

// Report is the outcome of a pass.
type Report struct {
	Source        string             `json:"source"`
	Dest          string             `json:"destination"`
	Started       time.Time          `json:"started"`
	Seconds       float64            `json:"duration_seconds"`
	DryRun        bool               `json:"dry_run,omitempty"`
	Uploaded      int64              `json:"uploaded"`
	Bytes         int64              `json:"bytes"`
	New           int64              `json:"new"`
	Changed       int64              `json:"changed"`
	Drift         int64              `json:"drift_repaired"`
	Adopted       int64              `json:"adopted"`
	Deleted       int64              `json:"deleted"`
	Skipped       int64              `json:"skipped"`
	Failed        int64              `json:"failed"`
	Pending       int64              `json:"pending"`
	PendingBytes  int64              `json:"pending_bytes"`
	DeletePending int64              `json:"delete_pending"`
	DeleteRefused string             `json:"delete_refused,omitempty"`
	Untracked     int64              `json:"untracked_objects,omitempty"`
	Tracked       int64              `json:"tracked"`
	LagSeconds    float64            `json:"lag_seconds"`
	Retries       int64              `json:"retries"`
	Interrupted   bool               `json:"interrupted,omitempty"`
	Requests      int64              `json:"list_requests,omitempty"`
	Failures      []transfer.Problem `json:"failures"`
	Warnings      []string           `json:"warnings,omitempty"`
	// OldestPending is the last change time of the oldest file left
	// pending (unsettled or failed); zero when none.
	OldestPending time.Time `json:"oldest_pending,omitzero"`
	// Selection is the --sample or --slice the pass took (nil: all).
	Selection *transfer.Selection `json:"subset,omitempty"`
	// StorageClasses counts the objects (and bytes) this pass uploaded
	// in each storage class, as copy's report does.
	StorageClasses map[string]transfer.ClassCount `json:"storage_classes,omitempty"`
}

// Notable reports whether the pass did (or would do) anything, or failed:
// cron mode prints nothing otherwise.
func (r *Report) Notable() bool {
	return r.Uploaded > 0 || r.Adopted > 0 || r.Deleted > 0 || r.Failed > 0 || r.DeleteRefused != "" || r.Interrupted
}

// OK reports whether the pass completed with nothing failed or refused.
func (r *Report) OK() bool {
	return r.Failed == 0 && r.DeleteRefused == "" && !r.Interrupted
}

// Syncer runs passes for one source and destination.
type Syncer struct {
	api   transfer.S3API
	store Store
	o     Options

	manifests manifestIndex
}

// New returns a syncer. api may be nil for a dry run that needs no
// listing, and for Pending.
func New(api transfer.S3API, store Store, o Options) *Syncer {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Checkers <= 0 {
		o.Checkers = 8
	}
	if o.Stats == nil {
		o.Stats = &transfer.Stats{}
	}
	o.Upload.DryRun = o.DryRun
	// Records name files by absolute path, as the copy journal does.
	if abs, err := filepath.Abs(o.Source); err == nil && o.From == nil {
		o.Source = abs
	}
	o.Upload.Source = o.From
	return &Syncer{api: api, store: store, o: o}
}

// ErrSourceMissing says the source root is gone (an unmounted filer, a
// moved folder): nothing is uploaded or deleted.
var ErrSourceMissing = errors.New("source root is missing")

// scope is the key prefix every object of the destination starts with.
func (s *Syncer) scope() string {
	p := s.o.Dest.Prefix
	if p != "" && !strings.HasSuffix(p, "/") {
		p += "/"
	}
	return p
}

// item is one key of the merge, with what each side holds for it.
type item struct {
	key string
	// local is the file, when hasLocal: held by value, as rec is, so
	// that the merge allocates nothing for a key it passes over.
	local     transfer.Entry
	hasLocal  bool
	rec       Record
	hasRec    bool
	remote    *remoteObj
	unmatched bool // a walk failure whose key is not in key order
}

var errStopped = errors.New("stopped")

// walk walks the source: the folder, or the listing of an s3:// source.
func (s *Syncer) walk(ctx context.Context, fn func(transfer.Entry) error) error {
	if s.o.From != nil {
		return s.o.From.Walk(ctx, fn)
	}
	return transfer.Walk(ctx, s.o.Source, s.o.Upload.Walk, fn)
}

// merge walks the source and the state (and rc, when listing) in step,
// calling fn once per key in key order.
func (s *Syncer) merge(ctx context.Context, rc *remoteCursor, fn func(item) error) error {
	scope := s.scope()
	sc := newStateCursor(s.store, scope)
	defer sc.close()
	filter := s.o.Upload.Walk.Filter
	// Records and objects with no file come between the walk's keys: the
	// merge of the two is run up to each file's key, then to the end.
	merge := transfer.NewMerge[Record, remoteObj](sc, rc)
	emit := func(key string, rec *Record, remote *remoteObj) error {
		it := item{key: key, remote: remote}
		if rec != nil {
			it.rec, it.hasRec = *rec, true
		}
		if !filter.Match(strings.TrimPrefix(key, scope)) {
			return nil // out of scope: never touched
		}
		return fn(it)
	}
	flush := func(limit string, all bool) error {
		var err error
		if all {
			err = merge.All(emit)
		} else {
			err = merge.Until(limit, emit)
		}
		if err != nil {
			return fmt.Errorf("merging the sync state with the bucket listing: %w", err)
		}
		if err := sc.readErr(); err != nil {
			return fmt.Errorf("reading the sync state: %w", err)
		}
		if rc != nil && rc.err != nil {
			return rc.err
		}
		return nil
	}
	err := s.walk(ctx, func(e transfer.Entry) error {
		if s.stopped() {
			return errStopped
		}
		key, kerr := transfer.KeyFor(s.o.Dest, e.Rel, true)
		if kerr != nil && e.Err == nil && e.Skip == "" {
			e.Err = kerr
		}
		if kerr != nil || e.Err != nil && e.Mode == 0 && e.Inode == 0 {
			// An unreadable directory (or a name that is no key) comes
			// at its directory's place, not in key order.
			return fn(item{key: key, local: e, hasLocal: true, unmatched: true})
		}
		if err := flush(key, false); err != nil {
			return err
		}
		it := item{key: key, local: e, hasLocal: true}
		if k, rec, ok := sc.Peek(); ok && k == key {
			it.rec, it.hasRec = rec, true
			sc.Next()
		}
		if k, r, ok := rc.Peek(); ok && k == key {
			matched := r // only a match goes to the heap, not every peek
			it.remote = &matched
			rc.Next()
		}
		return fn(it)
	})
	if err != nil {
		return err
	}
	return flush("", true)
}

func (s *Syncer) stopped() bool {
	if s.o.Stop == nil {
		return false
	}
	select {
	case <-s.o.Stop:
		return true
	default:
		return false
	}
}

// sameMeta reports whether the file is as recorded.
// An Uploading record (a copy or sync cut off mid-file) never matches.
// ctime is compared too: it catches an edit whose mtime was put back.
func sameMeta(e *transfer.Entry, r Record) bool {
	return r.Status == state.Done && e.Size == r.Size && e.ModTime.UnixNano() == r.MTime && e.Inode == r.Inode && e.Ctime == r.Ctime
}

func recordOf(e *transfer.Entry, blake3, etag string) Record {
	return Record{Path: e.Path, Size: e.Size, MTime: e.ModTime.UnixNano(), Inode: e.Inode, Dev: e.Dev, Ctime: e.Ctime,
		BLAKE3: blake3, ETag: normETag(etag), Status: state.Done}
}

// lastChange is when the file's content or identity last changed.
func lastChange(e *transfer.Entry) time.Time {
	t := e.ModTime
	if c := time.Unix(0, e.Ctime); c.After(t) {
		t = c
	}
	return t
}

// runState is what one pass accumulates while the merge runs.
type runState struct {
	newF, changed, drift, adopted, unchanged atomic.Int64
	pending, pendingBytes                    atomic.Int64
	walkErrs, untracked, tracked, seen       atomic.Int64

	mu       sync.Mutex
	dels     []kv
	gone     []string // deleted in both source and bucket: records to drop
	oldest   time.Time
	warnings []string
}

func (rs *runState) notePending(t time.Time) {
	rs.mu.Lock()
	if rs.oldest.IsZero() || t.Before(rs.oldest) {
		rs.oldest = t
	}
	rs.mu.Unlock()
}

func (rs *runState) warn(msg string) {
	rs.mu.Lock()
	if len(rs.warnings) < 100 {
		rs.warnings = append(rs.warnings, msg)
	}
	rs.mu.Unlock()
}

// check is a file whose fate needs its content hashed.
type check struct {
	it    item
	adopt bool
}

// Run performs one pass. The returned error is for a pass that could not
// run at all or stopped early; files that failed are in the report, and
// the pass then deleted nothing.
func (s *Syncer) Run(ctx context.Context) (*Report, error) {
	rep := &Report{Source: s.o.Source, Dest: s.o.Dest.String(), Started: s.o.Now(), DryRun: s.o.DryRun, Failures: []transfer.Problem{}}
	defer func() { rep.Seconds = s.o.Now().Sub(rep.Started).Seconds() }()
	if s.o.From == nil {
		fi, err := os.Stat(s.o.Source)
		if err != nil {
			rep.DeleteRefused = "the source root is missing"
			return rep, fmt.Errorf("%w: %s: %v", ErrSourceMissing, s.o.Source, transfer.UnwrapPathError(err))
		}
		if !fi.IsDir() {
			return rep, fmt.Errorf("source %s is not a directory", s.o.Source)
		}
	}

	// A sample of a count of files is chosen once, by a pass over the
	// names, before the state, the listing and the walk are matched.
	if err := s.o.Upload.Walk.Filter.Resolve(ctx, s.walk); err != nil {
		return rep, err
	}
	rep.Selection = s.o.Upload.Walk.Filter.Selection()
	isEmpty, err := empty(s.store, s.scope())
	if err != nil {
		return rep, fmt.Errorf("reading the sync state: %w", err)
	}
	listing := s.o.Reconcile || (isEmpty && s.o.Adopt != AdoptOff)
	if listing && s.api == nil {
		return rep, errors.New("listing the bucket needs a client")
	}
	var rc *remoteCursor
	if listing {
		rc = newRemoteCursor(ctx, s.api, s.o.Dest, s.scope())
		if s.o.Adopt != AdoptOff {
			if s.manifests, err = loadManifests(ctx, s.api, s.o.Dest); err != nil {
				rep.Warnings = append(rep.Warnings, "manifests not used for adoption: "+err.Error())
			}
		}
	}

	rs := &runState{}
	uo := s.o.Upload
	uo.Stop = s.o.Stop
	// The store is the engine's journal, and the engine the one writer of
	// a sent file's record: a large file cut off mid-way resumes on the
	// next pass. Records older than this pass never make the engine skip
	// a file: sync sends a file because its content may differ from what
	// the record describes.
	uo.Journal, uo.TrustDoneSince = s.store, s.o.Now().UnixNano()
	uo.OnFile = func(res transfer.FileResult) {
		if res.DryRun {
			rs.notePending(lastChange(&res.Entry))
		}
		s.event(Event{Kind: "upload", Key: res.Key, Path: res.Path, Size: res.Size, DryRun: res.DryRun})
	}
	up, err := transfer.NewUploader(s.api, s.o.Dest.Bucket, uo, s.o.Stats)
	if err != nil {
		return rep, err
	}
	trep, runErr := up.Run(ctx, s.o.Source, s.o.Dest, func(fctx context.Context, send func(transfer.Job) error) error {
		// What the pass sends is what progress counts toward (a copy
		// counts what its walk finds; a pass finds mostly what it skips).
		counted := func(j transfer.Job) error {
			up.Stats.FilesFound.Add(1)
			up.Stats.BytesFound.Add(j.Entry.Size)
			return send(j)
		}
		err := s.plan(fctx, rc, rs, counted)
		if errors.Is(err, errStopped) {
			return nil // let in-flight files finish
		}
		return err
	})
	if s.stopped() {
		rep.Interrupted = true
	}
	if s.o.From != nil && runErr == nil && rs.seen.Load() == 0 && rs.walkErrs.Load() == 0 && rs.tracked.Load() > 0 {
		// A prefix that lists nothing where objects were synced before
		// is more likely a wrong endpoint, bucket or credentials than a
		// dataset deleted: it is treated as a missing source root.
		rep.DeleteRefused = "the source listing is empty"
		runErr = fmt.Errorf("%w: %s lists no object", ErrSourceMissing, s.o.Source)
	}
	if rc != nil {
		rep.Requests = int64(rc.pages)
	}
	if trep != nil {
		rep.Uploaded, rep.Bytes, rep.Failed = trep.Files, trep.Bytes, trep.Failed
		rep.StorageClasses = trep.StorageClasses
		rep.Skipped = trep.FilesSkipped
		rep.Retries = trep.Retries
		rep.Failures = trep.Failures
		rep.Warnings = append(rep.Warnings, trep.Warnings...)
		for _, p := range trep.Skipped {
			if p.Refused {
				rep.Warnings = append(rep.Warnings, transfer.DisplayName(p.Path)+": "+p.Err)
			}
		}
		for _, p := range trep.Failures {
			if st, err := os.Stat(p.Path); err == nil && !st.IsDir() {
				rs.notePending(st.ModTime())
			}
		}
	}
	rep.New, rep.Changed, rep.Drift, rep.Adopted = rs.newF.Load(), rs.changed.Load(), rs.drift.Load(), rs.adopted.Load()
	rep.Pending, rep.PendingBytes = rs.pending.Load()+rep.Failed, rs.pendingBytes.Load()
	rep.Untracked, rep.Tracked = rs.untracked.Load(), rs.tracked.Load()
	rep.Warnings = append(rep.Warnings, rs.warnings...)
	rep.OldestPending = rs.oldest

	s.deletions(ctx, rep, rs, runErr)
	if !s.o.DryRun {
		for _, k := range rs.gone {
			if err := s.store.Delete(k); err != nil && runErr == nil {
				runErr = fmt.Errorf("recording in the sync state: %w", err)
			}
		}
	}
	if runErr != nil && errors.Is(runErr, context.Canceled) {
		rep.Interrupted = true
	}
	return rep, runErr
}

// Pending reports what a pass would do now, from local state alone (no
// request): Pending and PendingBytes count the files to upload (new,
// changed, unsettled), DeletePending the objects whose source is gone,
// and OldestPending the last change time of the oldest of those files.
func (s *Syncer) Pending(ctx context.Context) (*Report, error) {
	p := *s
	p.api = nil
	p.o.DryRun, p.o.Upload.DryRun, p.o.Upload.Manifest = true, true, false
	p.o.Adopt, p.o.Reconcile, p.o.Delete, p.o.Settle, p.o.OnEvent = AdoptOff, false, false, 0, nil
	p.o.Stats = &transfer.Stats{}
	rep, err := p.Run(ctx)
	if rep != nil {
		rep.Pending += rep.Uploaded
		rep.PendingBytes += rep.Bytes
		rep.Uploaded, rep.Bytes, rep.StorageClasses = 0, 0, nil
	}
	return rep, err
}

func (s *Syncer) event(e Event) {
	if s.o.OnEvent != nil {
		s.o.OnEvent(e)
	}
}

// plan is the engine's feed: it merges, decides each key, and sends the
// files to upload; files whose fate depends on their content go to a
// small pool of checkers that hash them.
func (s *Syncer) plan(ctx context.Context, rc *remoteCursor, rs *runState, send func(transfer.Job) error) error {
	g, gctx := errgroup.WithContext(ctx)
	checks := make(chan check)
	for i := 0; i < s.o.Checkers; i++ {
		g.Go(func() error {
			buf := make([]byte, 256<<10)
			for c := range checks {
				if err := s.check(gctx, c, buf, rs, send); err != nil {
					return err
				}
			}
			return nil
		})
	}
	listing := rc != nil
	now := s.o.Now()
	g.Go(func() error {
		defer close(checks)
		toCheck := func(c check) error {
			select {
			case checks <- c:
				return nil
			case <-gctx.Done():
				return gctx.Err()
			}
		}
		return s.merge(gctx, rc, func(it item) error {
			if it.hasRec {
				rs.tracked.Add(1)
			}
			e := &it.local
			switch {
			case !it.hasLocal && it.hasRec:
				if listing && it.remote == nil {
					rs.mu.Lock()
					rs.gone = append(rs.gone, it.key)
					rs.mu.Unlock()
					return nil
				}
				rs.mu.Lock()
				rs.dels = append(rs.dels, kv{it.key, it.rec})
				rs.mu.Unlock()
				return nil
			case !it.hasLocal:
				rs.untracked.Add(1)
				return nil
			}
			if e.Err != nil || e.Skip != "" {
				if e.Err != nil {
					rs.walkErrs.Add(1)
				}
				return send(transfer.Job{Entry: *e, Key: it.key})
			}
			rs.seen.Add(1)
			if s.o.Settle > 0 && now.Sub(lastChange(e)) < s.o.Settle {
				rs.pending.Add(1)
				rs.pendingBytes.Add(e.Size)
				rs.notePending(lastChange(e))
				return nil
			}
			job := transfer.Job{Entry: *e, Key: it.key}
			if !it.hasRec {
				if it.remote != nil && s.o.Adopt != AdoptOff && it.remote.size == e.Size {
					return toCheck(check{it: it, adopt: true})
				}
				rs.newF.Add(1)
				return send(job)
			}
			if listing && (it.remote == nil || it.remote.size != it.rec.Size || it.rec.ETag != "" && it.remote.etag != normETag(it.rec.ETag)) {
				rs.drift.Add(1)
				return send(job)
			}
			same := sameMeta(e, it.rec)
			switch {
			case same && !s.o.Checksum:
				rs.unchanged.Add(1)
				s.o.Stats.FilesSkipped.Add(1)
				return nil
			case same, it.rec.Status == state.Done && e.Size == it.rec.Size && it.rec.BLAKE3 != "":
				// Same size, new mtime or inode (a touch, a restore, a
				// rewrite with the same bytes): hashing is cheaper than
				// sending.
				return toCheck(check{it: it})
			}
			rs.changed.Add(1)
			return send(job)
		})
	})
	return g.Wait()
}

// check hashes one file and records, adopts or sends it.
func (s *Syncer) check(ctx context.Context, c check, buf []byte, rs *runState, send func(transfer.Job) error) error {
	e := &c.it.local
	job := transfer.Job{Entry: *e, Key: c.it.key}
	if c.adopt {
		remote, err := s.remoteBLAKE3(ctx, *c.it.remote)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			rs.warn(fmt.Sprintf("adopting %s: %v; uploading it", c.it.key, err))
		}
		if remote == "" {
			rs.newF.Add(1)
			return send(job)
		}
		local, _, err := hashFile(e.Path, buf)
		if err != nil || local != remote {
			rs.newF.Add(1)
			return send(job) // the engine reports an unreadable file
		}
		if !s.o.DryRun {
			if err := s.store.Put(c.it.key, recordOf(e, local, c.it.remote.etag)); err != nil {
				return fmt.Errorf("recording in the sync state: %w", err)
			}
		}
		rs.adopted.Add(1)
		s.o.Stats.FilesSkipped.Add(1)
		s.event(Event{Kind: "adopt", Key: c.it.key, Path: e.Path, Size: e.Size, DryRun: s.o.DryRun})
		return nil
	}
	local, n, err := hashFile(e.Path, buf)
	if err != nil || n != e.Size || local != c.it.rec.BLAKE3 {
		rs.changed.Add(1)
		return send(job)
	}
	if !sameMeta(e, c.it.rec) && !s.o.DryRun {
		if err := s.store.Put(c.it.key, recordOf(e, local, c.it.rec.ETag)); err != nil {
			return fmt.Errorf("recording in the sync state: %w", err)
		}
	}
	rs.unchanged.Add(1)
	s.o.Stats.FilesSkipped.Add(1)
	return nil
}

// deletions applies the safety rules, then deletes what the source lost.
func (s *Syncer) deletions(ctx context.Context, rep *Report, rs *runState, runErr error) {
	n := int64(len(rs.dels))
	rep.DeletePending = n
	if !s.o.Delete || n == 0 {
		return
	}
	var why []string
	if runErr != nil {
		why = append(why, "the run did not complete ("+oneLine(runErr.Error())+")")
	}
	if rep.Interrupted {
		why = append(why, "the run was interrupted")
	}
	if w := rs.walkErrs.Load(); w > 0 {
		why = append(why, fmt.Sprintf("%d file(s) or folder(s) of the source could not be read", w))
	}
	if f := rep.Failed - rs.walkErrs.Load(); f > 0 {
		why = append(why, fmt.Sprintf("%d upload(s) failed", f))
	}
	if rs.seen.Load() == 0 && rs.walkErrs.Load() == 0 && rep.Pending == 0 {
		// No flag lifts this one: name the step that does.
		why = append(why, fmt.Sprintf("the source root is empty, and a sync never deletes every object it tracks (if that is meant, delete them with: aws s3 rm --recursive %s)", s.o.Dest))
	}
	// The hint to --force only where --force would then let the
	// deletions go ahead: after a reason it does not lift, it is a dead end.
	forceHint := " (use --force, or --max-delete)"
	if len(why) > 0 {
		forceHint = ""
	}
	tracked := rs.tracked.Load()
	switch {
	case s.o.MaxDelete >= 0 && n > s.o.MaxDelete:
		why = append(why, fmt.Sprintf("%d deletions exceed --max-delete %d", n, s.o.MaxDelete))
	case s.o.MaxDeletePercent > 0 && float64(n) > s.o.MaxDeletePercent/100*float64(tracked):
		why = append(why, fmt.Sprintf("%d deletions are over %g%% of the %d tracked objects (--max-delete)", n, s.o.MaxDeletePercent, tracked))
	case s.o.MaxDelete < 0 && s.o.MaxDeletePercent == 0 && !s.o.Force && 2*n > tracked:
		why = append(why, fmt.Sprintf("%d deletions are over half of the %d tracked objects%s", n, tracked, forceHint))
	}
	if len(why) > 0 {
		rep.DeleteRefused = strings.Join(why, "; ")
		return
	}
	if s.o.DryRun {
		for _, d := range rs.dels {
			s.event(Event{Kind: "delete", Key: d.key, Size: d.rec.Size, DryRun: true})
		}
		rep.Deleted = n
		rep.DeletePending = 0
		return
	}
	for i := 0; i < len(rs.dels); i += 1000 {
		batch := rs.dels[i:min(i+1000, len(rs.dels))]
		objs := make([]types.ObjectIdentifier, len(batch))
		for j, d := range batch {
			objs[j] = types.ObjectIdentifier{Key: aws.String(d.key)}
		}
		out, err := s.api.DeleteObjects(ctx, &s3.DeleteObjectsInput{
			Bucket: aws.String(s.o.Dest.Bucket),
			Delete: &types.Delete{Objects: objs, Quiet: aws.Bool(true)},
		})
		if err != nil {
			rep.Failed += int64(len(batch))
			rep.Failures = append(rep.Failures, transfer.Problem{Key: batch[0].key, Err: fmt.Sprintf("DeleteObjects (%d keys): %v", len(batch), err)})
			continue
		}
		failed := map[string]bool{}
		for _, e := range out.Errors {
			failed[aws.ToString(e.Key)] = true
			rep.Failed++
			rep.Failures = append(rep.Failures, transfer.Problem{Key: aws.ToString(e.Key), Err: "delete: " + aws.ToString(e.Code) + ": " + aws.ToString(e.Message)})
		}
		for _, d := range batch {
			if failed[d.key] {
				continue
			}
			if err := s.store.Delete(d.key); err != nil {
				rep.Warnings = append(rep.Warnings, fmt.Sprintf("recording deletion of %s: %v", d.key, err))
			}
			rep.Deleted++
			rep.DeletePending--
			s.event(Event{Kind: "delete", Key: d.key, Size: d.rec.Size})
		}
	}
}

func oneLine(s string) string { return strings.ReplaceAll(s, "\n", " ") }

// Outcome classifies a one-shot pass that returned r and err: failed
// when anything failed or a deletion that was asked for was refused,
// interrupted when stopped by a signal.
func (r *Report) Outcome(err error, deleteAsked bool) error {
	interrupted := outcome.Interruptedf("interrupted; run the same command again to continue")
	switch {
	case errors.Is(err, ErrSourceMissing):
		return outcome.Failedf("%v; nothing uploaded or deleted", err)
	case err != nil && (errors.Is(err, context.Canceled) || r != nil && r.Interrupted):
		return interrupted
	case err != nil:
		return outcome.As(outcome.Failed, err)
	case r.Interrupted:
		return interrupted
	case r.Failed > 0:
		return outcome.Failedf("%d file(s) failed", r.Failed)
	case r.DeleteRefused != "" && deleteAsked:
		return outcome.Failedf("deleted nothing: %s", r.DeleteRefused)
	}
	return nil
}

// ParseMaxDelete reads a deletion cap: "" (unset: -1), "N" objects or
// "N%" of the tracked ones.
func ParseMaxDelete(s string) (n int64, pct float64, err error) {
	if s == "" {
		return -1, 0, nil
	}
	if p, ok := strings.CutSuffix(s, "%"); ok {
		if v, err := strconv.ParseFloat(p, 64); err == nil && v > 0 && v <= 100 {
			return -1, v, nil
		}
		return 0, 0, outcome.BadOption("MaxDelete", "{MaxDelete} %q: want a count or a percentage in (0, 100]", s)
	}
	if v, err := strconv.ParseInt(s, 10, 64); err == nil && v >= 0 {
		return v, 0, nil
	}
	return 0, 0, outcome.BadOption("MaxDelete", "{MaxDelete} %q: want a count or a percentage such as 10%%", s)
}
