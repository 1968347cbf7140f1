package bench

import (
	"context"
	"encoding/xml"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/airlift-io/airlift/bench/plan"
	"github.com/airlift-io/airlift/internal/s3test"
	"github.com/airlift-io/airlift/transfer"
)

func tinyOptions(bucket string) Options {
	return Options{
		Target:      transfer.Location{Bucket: bucket, Prefix: "data/"},
		Concurrency: []int{1, 2, 4},
		PartSizes:   []int64{5 << 20, 6 << 20},
		CellTime:    400 * time.Millisecond,
		CellBytes:   24 << 20,
		CPUTime:     100 * time.Millisecond,
		SmallTime:   300 * time.Millisecond, SmallConcurrency: 4,
		SourceTime: 200 * time.Millisecond, SourceBytes: 4 << 20,
	}
}

// bucketEmpty asserts that nothing is left: no objects, no multipart
// uploads, anywhere in the bucket.
func bucketEmpty(t *testing.T, api *s3.Client, bucket string) {
	t.Helper()
	ctx := context.Background()
	lo, err := api.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: &bucket})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range lo.Contents {
		t.Errorf("left behind: object %s", aws.ToString(o.Key))
	}
	lu, err := api.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: &bucket})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range lu.Uploads {
		t.Errorf("left behind: multipart upload of %s", aws.ToString(u.Key))
	}
}

func finitePositive(t *testing.T, name string, v float64) {
	t.Helper()
	if !(v > 0) || math.IsInf(v, 0) || math.IsNaN(v) {
		t.Errorf("%s = %v, want positive and finite", name, v)
	}
}

func TestRunAgainstVersitygw(t *testing.T) {
	srv := s3test.Start(t, s3test.Options{})
	srv.CreateBucket(t, "bench")
	cli := srv.Client(t)
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "a"), make([]byte, 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	o := tinyOptions("bench")
	o.Source = src
	var steps []Step
	o.Progress = func(s Step) { steps = append(steps, s) }
	r, err := Run(context.Background(), cli.S3, o)
	if err != nil {
		t.Fatal(err)
	}
	bucketEmpty(t, cli.S3, "bench")
	if !strings.HasPrefix(r.Prefix, "data/.airlift-bench/"+r.RunID+"/") {
		t.Errorf("prefix %q", r.Prefix)
	}
	finitePositive(t, "blake3", r.Blake3.BytesPerSec)
	finitePositive(t, "zstd", r.Zstd.BytesPerSec)
	finitePositive(t, "source", r.Source.BytesPerSec)
	if len(r.Grid) != 6 {
		t.Fatalf("grid has %d cells, want 6", len(r.Grid))
	}
	for _, c := range r.Grid {
		finitePositive(t, "cell throughput", c.BytesPerSec)
		if c.Bytes > o.CellBytes || c.Parts == 0 || c.Errors != 0 {
			t.Errorf("cell %+v: want some parts, no errors, within %d bytes", c, o.CellBytes)
		}
	}
	finitePositive(t, "small PUT rate", r.Small.PutsPerSec)
	for name, v := range map[string]float64{"put p50": r.Small.Put.P50, "put p99": r.Small.Put.P99, "head p50": r.Small.Head.P50, "head p95": r.Small.Head.P95} {
		finitePositive(t, name, v)
	}
	if r.Small.Put.P50 > r.Small.Put.P95 || r.Small.Put.P95 > r.Small.Put.P99 {
		t.Errorf("percentiles out of order: %+v", r.Small.Put)
	}
	// PUTs cut off by the deadline may still land: the listing finds them.
	if r.Cleanup.Objects < r.Small.Puts || r.Cleanup.Uploads != 6 {
		t.Errorf("cleanup %+v, want at least %d objects and 6 uploads", r.Cleanup, r.Small.Puts)
	}
	if r.Recommend.Concurrency == 0 || r.Recommend.PartSize == 0 || r.Recommend.MaxMemory < int64(r.Recommend.Concurrency)*r.Recommend.PartSize {
		t.Errorf("recommendation %+v", r.Recommend)
	}
	if last := steps[len(steps)-1]; last.Done != last.Total || len(steps) != last.Total+1 {
		t.Errorf("progress steps %+v", steps)
	}

	// The chart is XML with one series per part size.
	var sb strings.Builder
	if err := WriteSVG(&sb, r); err != nil {
		t.Fatal(err)
	}
	series := svgSeries(t, sb.String())
	if len(series) != 2 || series[0] != strconv.Itoa(5<<20) || series[1] != strconv.Itoa(6<<20) {
		t.Errorf("series %v, want one per part size", series)
	}

	// The saved profile drives plan.
	p := filepath.Join(t.TempDir(), "profile.json")
	if err := plan.SaveProfile(p, r.Profile(srv.URL)); err != nil {
		t.Fatal(err)
	}
	prof, err := plan.LoadProfile(p)
	if err != nil {
		t.Fatal(err)
	}
	if prof.Recommend.PartSize != r.Recommend.PartSize || prof.UploadBytesPerSec != r.Recommend.BytesPerSec {
		t.Errorf("profile round trip: %+v", prof)
	}
	e, err := plan.EstimateRoutes(plan.DefaultConfig(), plan.Dataset{Bytes: 1e9, Files: 1000, Requests: 1000}, prof.Link(p), plan.Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := 1e9/prof.UploadBytesPerSec + 1000/prof.SmallPutsPerSec
	if got := e.Routes[0].Seconds; math.Abs(got-want) > 1e-6*want {
		t.Errorf("network estimate from profile %v, want %v", got, want)
	}
}

// svgSeries parses the chart and returns each series' part size.
func svgSeries(t *testing.T, doc string) []string {
	t.Helper()
	dec := xml.NewDecoder(strings.NewReader(doc))
	var out []string
	for {
		tok, err := dec.Token()
		if err != nil {
			if err.Error() == "EOF" {
				return out
			}
			t.Fatalf("SVG does not parse: %v", err)
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "g" {
			for _, a := range se.Attr {
				if a.Name.Local == "data-part-size" {
					out = append(out, a.Value)
				}
			}
		}
	}
}

// Cancelled in the middle of the grid (Ctrl-C), the run still removes
// everything it wrote.
func TestRunCancelledCleansUp(t *testing.T) {
	srv := s3test.Start(t, s3test.Options{})
	srv.CreateBucket(t, "bench")
	cli := srv.Client(t)
	o := tinyOptions("bench")
	o.CellTime = 2 * time.Second
	o.CellBytes = 1 << 30
	ctx, cancel := context.WithCancel(context.Background())
	o.Progress = func(s Step) {
		if strings.HasPrefix(s.Name, "upload c=2") {
			time.AfterFunc(300*time.Millisecond, cancel)
		}
	}
	r, err := Run(ctx, cli.S3, o)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
	if r == nil || r.Cleanup.Uploads < 2 {
		t.Errorf("cleanup %+v, want the open uploads aborted", r)
	}
	bucketEmpty(t, cli.S3, "bench")
}

func TestRecommend(t *testing.T) {
	grid := []Cell{
		{Concurrency: 1, PartSize: 8 << 20, BytesPerSec: 50e6},
		{Concurrency: 4, PartSize: 8 << 20, BytesPerSec: 190e6},
		{Concurrency: 16, PartSize: 8 << 20, BytesPerSec: 200e6},
		{Concurrency: 4, PartSize: 64 << 20, BytesPerSec: 199e6},
	}
	r := recommend(grid)
	if r.Concurrency != 4 || r.PartSize != 8<<20 || r.MaxMemory != 40<<20 {
		t.Errorf("got %+v, want 4 x 8 MiB with 40 MiB", r)
	}
}

func TestOptionsValidation(t *testing.T) {
	for _, o := range []Options{
		{Concurrency: []int{0}},
		{PartSizes: []int64{1 << 20}},
	} {
		if _, err := Run(context.Background(), nil, o); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
}
