// Package bench measures what limits a transfer from this machine to one
// S3 target: the CPU cost of hashing and compressing, the source's read
// speed, upload throughput over a grid of concurrency x part size, and the
// rate and latency of small requests. Every measurement is bounded in time
// and bytes; everything written goes under PREFIX/.airlift-bench/RUN-ID/
// and is removed before Run returns, also when ctx is cancelled. Like the
// transfer engine it never prints: it calls Options.Progress and returns a
// Result that the CLI renders.
package bench

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"math/rand"
	"os"
	"runtime"
	"sort"
	"time"

	"github.com/airlift-io/airlift/bench/plan"
	"github.com/airlift-io/airlift/internal/outcome"
	"github.com/airlift-io/airlift/internal/units"
	"github.com/airlift-io/airlift/transfer"
)

// Options say what to measure and how long each measurement may take.
type Options struct {
	Target transfer.Location
	RunID  string // default: transfer.NewRunID()

	Concurrency []int   // grid rows, default 1,4,16,64
	PartSizes   []int64 // grid columns, default 8, 16, 64 MiB
	// CellTime and CellBytes bound each grid cell: no part starts after
	// either is reached, and parts in flight get up to 2 x CellTime more
	// to finish (then they are cut off and not counted).
	CellTime  time.Duration // default 3s
	CellBytes int64         // default 1 GiB

	CPUTime time.Duration // per CPU measurement (BLAKE3, zstd), default 1s

	SmallSize        int           // default 16 KiB
	SmallConcurrency int           // default 64, copy's --concurrency
	SmallTime        time.Duration // per phase (PUT, then HEAD), default 3s

	Source      string        // optional: a directory whose read speed to sample
	SourceBytes int64         // default 256 MiB
	SourceTime  time.Duration // default 3s

	Seed int64 // seeds the generated data; default 1

	// Progress, when set, is called as each step starts and when the run
	// ends (Done == Total).
	Progress func(Step)
}

// Step is a progress report.
type Step struct {
	Name        string
	Done, Total int
}

// Rate is a measured speed.
type Rate struct {
	Bytes       int64   `json:"bytes"`
	Seconds     float64 `json:"seconds"`
	BytesPerSec float64 `json:"bytes_per_sec"`
	Files       int64   `json:"files,omitempty"`
}

// Cell is one grid measurement.
type Cell struct {
	Concurrency int     `json:"concurrency"`
	PartSize    int64   `json:"part_size"`
	Parts       int64   `json:"parts"`
	Bytes       int64   `json:"bytes"`
	Seconds     float64 `json:"seconds"`
	BytesPerSec float64 `json:"bytes_per_sec"`
	Errors      int64   `json:"errors"`
}

// Latency percentiles in seconds.
type Latency struct {
	Count int64   `json:"count"`
	P50   float64 `json:"p50"`
	P95   float64 `json:"p95"`
	P99   float64 `json:"p99"`
}

// Small is the small-object measurement.
type Small struct {
	Size        int     `json:"size"`
	Concurrency int     `json:"concurrency"`
	Puts        int64   `json:"puts"`
	Seconds     float64 `json:"seconds"`
	PutsPerSec  float64 `json:"puts_per_sec"`
	Put         Latency `json:"put"`
	Head        Latency `json:"head"`
	Errors      int64   `json:"errors"`
}

// Recommendation is the grid's answer for copy.
type Recommendation struct {
	Concurrency int     `json:"concurrency"`
	PartSize    int64   `json:"part_size"`
	MaxMemory   int64   `json:"max_memory"`
	BytesPerSec float64 `json:"bytes_per_sec"`
	Reason      string  `json:"reason"`
}

// Cleanup says what Run removed.
type Cleanup struct {
	Objects int64    `json:"objects_deleted"`
	Uploads int64    `json:"uploads_aborted"`
	Errors  []string `json:"errors,omitempty"`
}

// Result is everything Run measured.
type Result struct {
	RunID     string         `json:"run_id"`
	Target    string         `json:"target"`
	Prefix    string         `json:"prefix"`
	Started   time.Time      `json:"started"`
	Seconds   float64        `json:"seconds"`
	NumCPU    int            `json:"num_cpu"`
	Blake3    Rate           `json:"blake3"`
	Zstd      Rate           `json:"zstd"`
	Source    *Rate          `json:"source,omitempty"`
	Grid      []Cell         `json:"grid"`
	Small     Small          `json:"small"`
	Recommend Recommendation `json:"recommend"`
	Cleanup   Cleanup        `json:"cleanup"`
}

func (o *Options) defaults() error {
	if len(o.Concurrency) == 0 {
		o.Concurrency = []int{1, 4, 16, 64}
	}
	if len(o.PartSizes) == 0 {
		o.PartSizes = []int64{8 << 20, 16 << 20, 64 << 20}
	}
	for _, c := range o.Concurrency {
		if c < 1 || c > 1024 {
			return fmt.Errorf("concurrency %d: want 1 to 1024", c)
		}
	}
	for _, p := range o.PartSizes {
		if p < transfer.MinPartSize || p > 1<<30 {
			return fmt.Errorf("part size %d: want 5 MiB to 1 GiB", p)
		}
	}
	if o.RunID == "" {
		o.RunID = transfer.NewRunID()
	}
	if o.CellTime <= 0 {
		o.CellTime = 3 * time.Second
	}
	if o.CellBytes <= 0 {
		o.CellBytes = 1 << 30
	}
	if o.CPUTime <= 0 {
		o.CPUTime = time.Second
	}
	if o.SmallSize <= 0 {
		o.SmallSize = 16 << 10
	}
	if o.SmallConcurrency <= 0 {
		o.SmallConcurrency = 64
	}
	if o.SmallTime <= 0 {
		o.SmallTime = 3 * time.Second
	}
	if o.SourceBytes <= 0 {
		o.SourceBytes = 256 << 20
	}
	if o.SourceTime <= 0 {
		o.SourceTime = 3 * time.Second
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
	if o.Progress == nil {
		o.Progress = func(Step) {}
	}
	return nil
}

// Prefix is where a run writes: PREFIX/.airlift-bench/RUN-ID/.
func Prefix(target transfer.Location, runID string) string {
	p := target.Prefix
	if p != "" && p[len(p)-1] != '/' {
		p += "/"
	}
	return p + ".airlift-bench/" + runID + "/"
}

// Run measures. It always removes what it wrote before returning; a
// failure to remove is returned as an error (orphaned uploads are
// billed) and listed in Result.Cleanup.
func Run(ctx context.Context, api transfer.S3API, o Options) (res *Result, err error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	if o.Source != "" {
		if fi, err := os.Stat(o.Source); err != nil {
			return nil, fmt.Errorf("--source: %w", err)
		} else if !fi.IsDir() {
			return nil, fmt.Errorf("--source %s is not a directory", o.Source)
		}
	}
	r := &Result{
		RunID: o.RunID, Target: o.Target.String(), Prefix: Prefix(o.Target, o.RunID),
		Started: time.Now().UTC(), NumCPU: runtime.NumCPU(),
	}
	start := time.Now()
	total := 2 + len(o.Concurrency)*len(o.PartSizes) + 2
	if o.Source != "" {
		total++
	}
	step := 0
	next := func(name string) {
		o.Progress(Step{Name: name, Done: step, Total: total})
		step++
	}

	// One buffer of seeded random bytes, as large as the largest part,
	// serves every upload: parts are views into it, so memory stays at one
	// part whatever the concurrency.
	maxPart := int64(o.SmallSize)
	for _, p := range o.PartSizes {
		maxPart = max(maxPart, p)
	}
	data := make([]byte, maxPart)
	rand.New(rand.NewSource(o.Seed)).Read(data)

	cl := &cleaner{api: api, bucket: o.Target.Bucket, prefix: r.Prefix}
	defer func() {
		r.Cleanup = cl.run()
		r.Seconds = time.Since(start).Seconds()
		if len(r.Cleanup.Errors) > 0 {
			cerr := fmt.Errorf("cleanup under s3://%s/%s left something behind: %s", o.Target.Bucket, r.Prefix, r.Cleanup.Errors[0])
			err = errors.Join(err, cerr)
		}
		o.Progress(Step{Name: "done", Done: total, Total: total})
		res = r
	}()

	next("BLAKE3 speed")
	r.Blake3 = blake3Speed(ctx, data, o.CPUTime)
	next("zstd speed")
	r.Zstd = zstdSpeed(ctx, o.Seed, o.CPUTime)
	if o.Source != "" {
		next("source read speed")
		rate, err := sourceSpeed(ctx, o.Source, o.SourceBytes, o.SourceTime)
		if err != nil {
			return r, err
		}
		r.Source = &rate
	}
	if err := ctx.Err(); err != nil {
		return r, err
	}
	for _, ps := range o.PartSizes {
		for _, c := range o.Concurrency {
			next(fmt.Sprintf("upload c=%d part=%dMiB", c, ps>>20))
			cell, err := uploadCell(ctx, api, cl, o, c, ps, data[:ps])
			if err != nil {
				return r, err
			}
			r.Grid = append(r.Grid, cell)
		}
	}
	next(fmt.Sprintf("%d KiB PUTs", o.SmallSize>>10))
	keys, err := smallPuts(ctx, api, o, r.Prefix, data[:o.SmallSize], &r.Small)
	cl.objects.Add(int64(len(keys)))
	if err != nil {
		return r, err
	}
	next("HEADs")
	if err := heads(ctx, api, o, keys, &r.Small); err != nil {
		return r, err
	}
	r.Recommend = recommend(r.Grid)
	return r, nil
}

// recommend picks the cheapest setting (least memory in flight) within 5%
// of the best throughput: past the knee, more concurrency or bigger parts
// buy nothing but memory and retry cost.
func recommend(grid []Cell) Recommendation {
	var best float64
	for _, c := range grid {
		best = math.Max(best, c.BytesPerSec)
	}
	if best == 0 {
		return Recommendation{Reason: "no upload completed"}
	}
	cands := []Cell{}
	for _, c := range grid {
		if c.BytesPerSec >= 0.95*best && c.Errors == 0 {
			cands = append(cands, c)
		}
	}
	if len(cands) == 0 {
		for _, c := range grid {
			if c.BytesPerSec == best {
				cands = append(cands, c)
			}
		}
	}
	sort.Slice(cands, func(i, j int) bool {
		a, b := int64(cands[i].Concurrency)*cands[i].PartSize, int64(cands[j].Concurrency)*cands[j].PartSize
		if a != b {
			return a < b
		}
		return cands[i].BytesPerSec > cands[j].BytesPerSec
	})
	c := cands[0]
	// copy holds about 1.25 x the parts in flight (its default is 160 MiB
	// for 16 x 8 MiB): room for the next part to be read while the others
	// are sent.
	// Buffers come in power-of-two classes (transfer.Pool), so a 5 MiB
	// part takes an 8 MiB buffer.
	class := int64(1) << bits.Len64(uint64(c.PartSize-1))
	mem := (int64(c.Concurrency)*class*5/4 + (1<<20 - 1)) &^ (1<<20 - 1)
	return Recommendation{
		Concurrency: c.Concurrency, PartSize: c.PartSize, MaxMemory: mem, BytesPerSec: c.BytesPerSec,
		Reason: fmt.Sprintf("the least memory in flight within 5%% of the best throughput (%.1f MB/s)", best/1e6),
	}
}

// Profile is what plan and copy take from this run.
func (r *Result) Profile(endpoint string) *plan.Profile {
	p := &plan.Profile{
		Version: plan.ProfileVersion, Created: r.Started, Target: r.Target, Endpoint: endpoint, RunID: r.RunID,
		NumCPU: r.NumCPU, UploadBytesPerSec: r.Recommend.BytesPerSec,
		SmallPutsPerSec: r.Small.PutsPerSec, SmallConcurrency: r.Small.Concurrency,
		PutP50Seconds: r.Small.Put.P50, HeadP50Seconds: r.Small.Head.P50,
		Blake3BytesPerSec: r.Blake3.BytesPerSec, ZstdBytesPerSec: r.Zstd.BytesPerSec,
	}
	p.Hostname, _ = os.Hostname()
	if r.Source != nil {
		p.SourceReadBytesPerSec = r.Source.BytesPerSec
	}
	p.Recommend.Concurrency = r.Recommend.Concurrency
	p.Recommend.PartSize = r.Recommend.PartSize
	p.Recommend.MaxMemory = r.Recommend.MaxMemory
	return p
}

func rate(bytes int64, d time.Duration) Rate {
	r := Rate{Bytes: bytes, Seconds: d.Seconds()}
	if d > 0 {
		r.BytesPerSec = float64(bytes) / d.Seconds()
	}
	return r
}

func percentiles(ds []time.Duration) Latency {
	if len(ds) == 0 {
		return Latency{}
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	at := func(q float64) float64 {
		i := int(math.Ceil(q*float64(len(ds)))) - 1
		return ds[min(max(i, 0), len(ds)-1)].Seconds()
	}
	return Latency{Count: int64(len(ds)), P50: at(0.50), P95: at(0.95), P99: at(0.99)}
}

// Validate checks o before anything is contacted.
func (o *Options) Validate() error {
	if o.CellTime <= 0 || o.CPUTime <= 0 || o.SmallTime <= 0 || o.SourceTime <= 0 || o.SmallConcurrency < 1 {
		return outcome.Usagef("time limits and the small-request concurrency must be positive")
	}
	for _, c := range o.Concurrency {
		if c < 1 || c > 1024 {
			return outcome.BadOption("Concurrency", "concurrency %d: want 1 to 1024", c)
		}
	}
	for _, p := range o.PartSizes {
		if p < transfer.MinPartSize || p > 1<<30 {
			return outcome.BadOption("PartSizes", "part size %s: want 5 MiB to 1 GiB", units.FormatBytes(p))
		}
	}
	if o.Source != "" {
		if err := transfer.CheckSource(o.Source); err != nil {
			return err
		}
		if fi, _ := os.Stat(o.Source); !fi.IsDir() {
			return outcome.BadOption("Source", "%s is not a directory", o.Source)
		}
	}
	return nil
}

// MaxInFlight is the most requests a run keeps in flight.
func (o *Options) MaxInFlight() int {
	n := o.SmallConcurrency
	for _, c := range o.Concurrency {
		n = max(n, c)
	}
	return n
}

// Outcome classifies a run that returned r and err.
func (r *Result) Outcome(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, context.Canceled) && r != nil:
		return outcome.Interruptedf("interrupted; removed %d objects and %d multipart uploads under %s (bench prefix %s)",
			r.Cleanup.Objects, r.Cleanup.Uploads, r.Target, r.Prefix)
	}
	return outcome.As(outcome.Failed, err)
}

// WriteSVGFile writes the chart of r to path.
func WriteSVGFile(path string, r *Result) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := WriteSVG(f, r); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
