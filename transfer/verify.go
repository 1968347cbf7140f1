package transfer

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/airlift-io/airlift/checksum"
	"github.com/airlift-io/airlift/internal/outcome"
)

// VerifyOptions shape a verify run. Zero values take the defaults noted.
type VerifyOptions struct {
	// Deep reads every object back and hashes the bytes, trusting nothing
	// stored with it; otherwise the BLAKE3 recorded at upload is used.
	Deep bool
	// PartSize is the ranged-GET size in deep mode; Concurrency (files
	// compared at once) 0: 16.
	Sizing
	// Walk says how the local tree is read (symbolic links, filters); the
	// filter applies to objects too, so a filtered upload verifies clean.
	Walk WalkOptions
	// Source, when set, is what the objects are compared with instead of
	// the local tree: an S3 prefix (its Filter should be Walk's). Fast
	// mode then compares the BLAKE3 stored on both sides, else the ETags
	// where both sides have the same part layout (equal ETags).
	Source *Bucket
}

// Kinds of Difference.
const (
	MissingRemote = "missing_remote" // a local file with no object
	MissingLocal  = "missing_local"  // an object with no local file
	SizeDiffers   = "size_differs"
	HashDiffers   = "blake3_differs"
	HashUnknown   = "blake3_unknown" // no BLAKE3 stored with the object (fast mode)
	NeedsRestore  = "needs_restore"  // archived: deep mode cannot read it before a restore
	CompareFailed = "error"          // the file or the object could not be read
)

// Difference is one file that could not be shown equal.
type Difference struct {
	Kind   string `json:"kind"`
	Rel    string `json:"rel"`
	Path   string `json:"path,omitempty"`
	Key    string `json:"key,omitempty"`
	Local  string `json:"local,omitempty"`  // size or BLAKE3 of the local file
	Remote string `json:"remote,omitempty"` // size or BLAKE3 of the object
	Detail string `json:"detail,omitempty"`
}

// VerifyReport is the outcome of a verify run.
type VerifyReport struct {
	Local       string           `json:"local"`
	Remote      string           `json:"remote"`
	Deep        bool             `json:"deep"`
	Started     time.Time        `json:"started"`
	Seconds     float64          `json:"seconds"`
	LocalFiles  int64            `json:"local_files"`
	Objects     int64            `json:"objects"`
	Equal       int64            `json:"equal"`
	EqualBytes  int64            `json:"equal_bytes"`
	ReadBytes   int64            `json:"bytes_read_from_s3"`
	Counts      map[string]int64 `json:"differences_by_kind"`
	HashSources map[string]int64 `json:"blake3_from,omitempty"` // manifest, metadata, tag (fast mode)
	Manifests   int              `json:"manifests_read"`
	Differences []Difference     `json:"differences"`
	Warnings    []string         `json:"warnings,omitempty"`
	Selection   *Selection       `json:"subset,omitempty"` // --sample or --slice: only these files were compared
	// RestoreList names the archived objects deep mode could not read.
	RestoreList

	mu sync.Mutex
}

// Differ is the number of files not shown equal.
func (r *VerifyReport) Differ() int64 {
	var n int64
	for _, c := range r.Counts {
		n += c
	}
	return n
}

func (r *VerifyReport) add(d Difference) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.Counts[d.Kind]++
	if len(r.Differences) < maxListed*10 {
		r.Differences = append(r.Differences, d)
	}
}

func (r *VerifyReport) warn(s string) { listCapped(&r.mu, &r.Warnings, s, maxListed) }

// Verify compares the tree at local with the objects below remote (as a
// folder), file by file: by size, then by BLAKE3. The run's .airlift/
// folder is left out. It returns an error only when the comparison as a
// whole cannot proceed; every file-level finding is in the report.
func Verify(ctx context.Context, api S3API, local string, remote Location, o VerifyOptions, st *Stats) (*VerifyReport, error) {
	if err := o.normalize(16, DefaultDownloadParts); err != nil {
		return nil, err
	}
	if o.PartSize == 0 {
		o.PartSize = DefaultPartSize
	}
	if st == nil {
		st = &Stats{}
	}
	if st.Retries == nil {
		st.Retries = new(atomic.Int64)
	}
	var src Source
	if o.Source != nil {
		src, local = o.Source, o.Source.String()
	} else {
		// A source that cannot be read at all is bad input, reported
		// before any comparison (the walk would report it only once
		// running).
		f, err := NewFolder(local, o.Walk)
		if err != nil {
			return nil, err
		}
		src = f
	}
	rep := &VerifyReport{Local: local, Remote: remote.String(), Deep: o.Deep, Started: time.Now(),
		Counts: map[string]int64{}, HashSources: map[string]int64{}, Differences: []Difference{}}
	if w := remote.Warning(); w != "" {
		rep.warn(w)
	}
	// One listing of .airlift/ finds the run manifests and a packed
	// dataset's index.
	own, err := listOwn(ctx, api, remote)
	if err != nil {
		return nil, classify(err)
	}
	if o.Source == nil {
		x, err := loadPackIndex(ctx, api, remote, own.indexes)
		if err != nil {
			return nil, classify(err)
		}
		if x != nil {
			err := verifyPacked(ctx, api, src, remote, x, o, rep, st)
			rep.Seconds = time.Since(rep.Started).Seconds()
			sort.Slice(rep.Differences, func(i, j int) bool { return rep.Differences[i].Rel < rep.Differences[j].Rel })
			if err != nil {
				return rep, classify(err)
			}
			return rep, ctx.Err()
		}
	}
	// Fast mode needs the run manifests (the BLAKE3 of multipart objects)
	// before the first comparison; they are few objects, read first.
	var man *Manifests
	if !o.Deep {
		var err error
		if man, err = loadManifests(ctx, api, remote, own.manifests, rep.warn); err != nil {
			return nil, classify(err)
		}
		rep.Manifests = man.Files
	}
	var fe, srcFe *fetcher
	if o.Deep {
		pool := NewPool(o.MaxMemory) // one budget for both sides' reads
		fe = newFetcher(api, remote.Bucket, pool, o.PartSize, o.PartConcurrency, st)
		defer fe.close()
		if o.Source != nil {
			srcFe = newFetcher(o.Source.API, o.Source.Loc.Bucket, pool, o.PartSize, o.PartConcurrency, &Stats{})
			defer srcFe.close()
		}
	}

	// The walk and the listing both come in key order (byte order of
	// Rel), so one merge pass pairs them while both are still running:
	// memory stays flat however many files there are, and comparisons
	// start with the first pair.
	if err := o.Walk.Filter.Resolve(ctx, src.Walk); err != nil {
		return nil, err
	}
	rep.Selection = o.Walk.Filter.Selection()
	g, gctx := errgroup.WithContext(ctx)
	files := make(chan Entry, 1024)
	objects := make(chan Object, 1024)
	g.Go(func() error {
		defer close(files)
		return src.Walk(gctx, func(e Entry) error {
			if e.Refused {
				rep.warn(DisplayName(e.Path) + ": " + e.Skip)
			}
			if e.Skip != "" || IsOwnPath(e.Rel) {
				return nil
			}
			return send(gctx, files, e)
		})
	})
	g.Go(func() error {
		defer close(objects)
		return ListFolder(gctx, api, remote, func(ob Object) error {
			// Empty "folder/" markers are not files: the walk has none.
			marker := strings.HasSuffix(ob.Rel, "/") && ob.Size == 0
			if ob.Rel == "" || marker || !o.Walk.Filter.Match(ob.Rel) {
				return nil
			}
			return send(gctx, objects, ob)
		})
	})
	type pair struct {
		rel string
		e   Entry
		ob  Object
	}
	work := make(chan pair)
	g.Go(func() error {
		defer close(work)
		defer st.WalkDone.Store(true)
		merge := NewMerge[Entry, Object](
			NewChanCursor(gctx, files, func(e Entry) string { return e.Rel }),
			NewChanCursor(gctx, objects, func(ob Object) string { return ob.Rel }))
		err := merge.All(func(rel string, e *Entry, ob *Object) error {
			var d Difference
			switch {
			case ob == nil:
				d = Difference{Rel: e.Rel, Path: e.Path, Kind: MissingRemote, Local: strconv.FormatInt(e.Size, 10)}
				if e.Err != nil {
					d.Kind, d.Local, d.Detail = CompareFailed, "", e.Err.Error()
				}
				rep.LocalFiles++
			case e == nil:
				d = Difference{Rel: ob.Rel, Key: ob.Key, Kind: MissingLocal, Remote: strconv.FormatInt(ob.Size, 10)}
				rep.Objects++
			default: // the same Rel on both sides
				d = Difference{Rel: e.Rel, Path: e.Path, Key: ob.Key}
				switch {
				case e.Err != nil:
					d.Kind, d.Detail = CompareFailed, e.Err.Error()
				case e.Size != ob.Size:
					d.Kind, d.Local, d.Remote = SizeDiffers, strconv.FormatInt(e.Size, 10), strconv.FormatInt(ob.Size, 10)
				default:
					st.FilesFound.Add(1)
					st.BytesFound.Add(e.Size)
					if err := send(gctx, work, pair{e.Rel, *e, *ob}); err != nil {
						return err
					}
				}
				rep.LocalFiles++
				rep.Objects++
			}
			if d.Kind != "" {
				rep.add(d)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("verify: listing or walk %w", err)
		}
		return gctx.Err()
	})
	var equalBytes atomic.Int64
	var equal atomic.Int64
	cmp := &comparer{api: api, bucket: remote.Bucket, man: man, fe: fe, deep: o.Deep, src: o.Source, srcFe: srcFe}
	for i := 0; i < o.Concurrency; i++ {
		g.Go(func() error {
			for p := range work {
				d := Difference{Rel: p.rel, Path: p.e.Path, Key: p.ob.Key}
				local, remoteSum, from, err := cmp.sums(gctx, p.e, p.ob)
				var nr *NeedsRestoreError
				switch {
				case err != nil && gctx.Err() != nil && canceled(err):
					return gctx.Err()
				case errors.As(err, &nr):
					d.Kind, d.Detail = NeedsRestore, nr.Error()
					rep.RestoreList.add(nr.Key)
					st.FilesSkipped.Add(1)
				case err != nil && IsFatal(classify(err)):
					return classify(err)
				case err != nil:
					d.Kind, d.Detail = CompareFailed, err.Error()
					st.FilesFailed.Add(1)
				case remoteSum == "":
					d.Kind, d.Detail = HashUnknown, "no BLAKE3 stored with the object (not uploaded by airlift?); run with --deep to read it back"
					st.FilesSkipped.Add(1)
				case local != remoteSum:
					d.Kind, d.Local, d.Remote = HashDiffers, local, remoteSum
					st.FilesFailed.Add(1)
				}
				if !o.Deep && from != "" {
					rep.mu.Lock()
					rep.HashSources[from]++
					rep.mu.Unlock()
				}
				if d.Kind != "" {
					rep.add(d)
					continue
				}
				equal.Add(1)
				equalBytes.Add(p.e.Size)
				st.FilesDone.Add(1)
				st.BytesDone.Add(p.e.Size)
				if !o.Deep {
					st.BytesSent.Add(p.e.Size)
				}
			}
			return nil
		})
	}
	err = g.Wait()
	rep.Equal, rep.EqualBytes = equal.Load(), equalBytes.Load()
	if o.Deep {
		rep.ReadBytes = st.BytesSent.Load()
	}
	rep.Seconds = time.Since(rep.Started).Seconds()
	if w := selectedNoneWarning(o.Walk.Filter); w != "" {
		rep.warn(w)
	}
	sort.Slice(rep.Differences, func(i, j int) bool { return rep.Differences[i].Rel < rep.Differences[j].Rel })
	rep.RestoreList.sort()
	if err != nil {
		return rep, classify(err)
	}
	return rep, ctx.Err()
}

func hashFile(p string) (string, error) {
	f, err := openRead(p)
	if err != nil {
		return "", unwrapPathError(err)
	}
	defer f.Close()
	s, _, err := checksum.SumReader(f)
	if err != nil {
		return "", fmt.Errorf("reading: %w", unwrapPathError(err))
	}
	return s, nil
}

// comparer finds the two BLAKE3s of one file.
type comparer struct {
	api    S3API
	bucket string
	man    *Manifests
	fe     *fetcher
	deep   bool
	src    *Bucket // nil: the source is the local tree
	srcFe  *fetcher
}

// sums returns the BLAKE3 of the local file and of the object (read back
// in deep mode, else as recorded at upload; "" when none was recorded)
// and where the latter came from. In deep mode the local file is hashed
// while the object is read; in fast mode only once there is a recorded
// hash to compare it with.
func (c *comparer) sums(ctx context.Context, e Entry, ob Object) (local, remote, from string, err error) {
	if c.deep {
		// An archived object cannot be read back: it is named before
		// either side is read.
		if err := readable(ctx, c.api, c.bucket, ob); err != nil {
			return "", "", "", err
		}
	}
	if c.src != nil {
		return c.bucketSums(ctx, e, ob)
	}
	path := e.Path
	if !c.deep {
		remote, from, err = RecordedBLAKE3(ctx, c.api, c.bucket, ob, c.man)
		if err != nil || remote == "" {
			return "", remote, from, err
		}
		local, err = hashFile(path)
		return local, remote, from, err
	}
	var lerr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		local, lerr = hashFile(path)
	}()
	got, err := c.fe.fetch(ctx, ob, nil)
	<-done
	if err != nil {
		return "", "", "", err
	}
	if lerr != nil {
		return "", "", "", fmt.Errorf("local file: %w", lerr)
	}
	return local, got.BLAKE3, "read", nil
}

// Outcome classifies a verify that returned r and err.
func (r *VerifyReport) Outcome(err error) error {
	switch {
	case r == nil && err != nil && !IsFatal(err) && !canceled(err):
		return outcome.As(outcome.Usage, err) // nothing could be compared
	case r == nil && err != nil:
		return runOutcome(err, "interrupted")
	case err != nil:
		return runOutcome(err, "interrupted; the comparison is incomplete")
	case r.Differ() > 0:
		return outcome.Failedf("%d file(s) differ or could not be shown equal", r.Differ())
	}
	return nil
}

// bucketSums is sums for an S3 source. Fast: the BLAKE3 stored on both
// sides, else (neither side read) the ETags when both sides were written
// with the same part layout, where equal ETags mean equal bytes. Deep:
// both objects read and hashed at once.
func (c *comparer) bucketSums(ctx context.Context, e Entry, ob Object) (local, remote, from string, err error) {
	so := Object{Key: FolderPrefix(c.src.Loc) + e.Rel, Rel: e.Rel, Size: e.Size, ETag: e.ETag, Modified: e.ModTime}
	if c.deep {
		var serr error
		var got fetched
		done := make(chan struct{})
		go func() {
			defer close(done)
			got, serr = c.srcFe.fetch(ctx, so, nil)
		}()
		theirs, err := c.fe.fetch(ctx, ob, nil)
		<-done
		if err != nil {
			return "", "", "", err
		}
		if serr != nil {
			return "", "", "", fmt.Errorf("source: %w", serr)
		}
		return got.BLAKE3, theirs.BLAKE3, "read", nil
	}
	remote, from, err = RecordedBLAKE3(ctx, c.api, c.bucket, ob, c.man)
	if err != nil {
		return "", "", "", err
	}
	if remote != "" {
		if local, _, err = RecordedBLAKE3(ctx, c.src.API, c.src.Loc.Bucket, so, nil); err != nil {
			return "", "", "", fmt.Errorf("source: %w", err)
		}
		if local != "" {
			return local, remote, from, nil
		}
	}
	if e.ETag != "" && e.ETag == ob.ETag {
		return e.ETag, ob.ETag, "etag", nil
	}
	return "", "", from, nil
}
