package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/airlift-io/airlift/internal/datasynctest"
	"github.com/airlift-io/airlift/internal/s3test"
)

// sparse makes n files of size bytes under a new directory without
// writing their bytes: the scan takes them by stat alone and the disk
// holds nothing.
func sparse(t *testing.T, n int, size int64) string {
	t.Helper()
	dir := t.TempDir()
	for i := range n {
		p := filepath.Join(dir, fmt.Sprintf("shard-%03d.bin", i))
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Truncate(p, size); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const (
	gib = int64(1) << 30
	tib = int64(1) << 40
)

// routeDoc is the part of copy's --json document about the route.
type routeDoc struct {
	Route *struct {
		Chosen      string `json:"chosen"`
		Recommended string `json:"recommended"`
		Reason      string `json:"reason"`
		Probed      bool   `json:"probed"`
		Link        struct {
			From string `json:"from"`
		} `json:"link"`
		Estimates []struct {
			Name     string  `json:"name"`
			Seconds  float64 `json:"seconds"`
			Requests int64   `json:"requests"`
		} `json:"estimates"`
	} `json:"route"`
	Next     []string `json:"next_commands"`
	Error    string   `json:"error"`
	ExitCode int      `json:"exit_code"`
	Files    int64    `json:"files"`
	DryRun   bool     `json:"dry_run"`
	Status   string   `json:"status"`
}

func decodeRoute(t *testing.T, r result) routeDoc {
	t.Helper()
	jsonShape(t, r.stdout) // exactly one document
	var d routeDoc
	if err := json.Unmarshal([]byte(r.stdout), &d); err != nil {
		t.Fatalf("%v\n%s", err, r.stdout)
	}
	return d
}

// keys lists what the bucket holds under prefix (objects and uploads).
func keys(t *testing.T, srv *s3test.Server, bucket, prefix string) []string {
	t.Helper()
	api := srv.Client(t).S3
	var out []string
	lo, err := api.ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: &bucket, Prefix: &prefix})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range lo.Contents {
		out = append(out, *o.Key)
	}
	lu, err := api.ListMultipartUploads(context.Background(), &s3.ListMultipartUploadsInput{Bucket: &bucket, Prefix: &prefix})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range lu.Uploads {
		out = append(out, "upload:"+*u.Key)
	}
	return out
}

func TestE2ECopyViaAuto(t *testing.T) {
	srv := s3test.Start(t, s3test.Options{})
	srv.CreateBucket(t, "bkt")
	stateDir := t.TempDir()
	bigDS := []string{"--bandwidth", "10Gbps", "--host-throughput", "200MB/s", "--deadline", "12h", "--datasync-agents", "4"}
	huge := sparse(t, 50, 10*tib) // 550 TB
	twenty := sparse(t, 20, tib)  // 22 TB
	one50 := sparse(t, 1, 150*gib)

	t.Run("copy SMALL s3://bkt/small", func(t *testing.T) {
		src := tree(t, map[string]int{"a.txt": 10, "d/b.bin": 6 * mib})
		r := airlift(t, srv, "copy", src, "s3://bkt/small", "--state-dir", stateDir)
		if r.code != 0 {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		mustContain(t, "stderr", r.stderr, "airlift: route network (--via auto; scanned 2 files")
		mustContain(t, "stderr", r.stderr, "assumed 1 Gbps")
		if got := keys(t, srv, "bkt", "small/"); len(got) != 2 {
			t.Errorf("bucket holds %v, want 2 objects", got)
		}
		r = airlift(t, srv, "copy", src, "s3://bkt/small2", "--state-dir", stateDir, "--json", "-q")
		d := decodeRoute(t, r)
		if r.code != 0 || d.Route == nil || d.Route.Chosen != "network" || d.Route.Probed || d.Files != 2 || len(d.Route.Estimates) < 5 {
			t.Errorf("exit %d, document %+v", r.code, d)
		}
	})

	t.Run("copy 150GiB --bandwidth 100Mbps --dry-run", func(t *testing.T) {
		r := airlift(t, srv, "copy", one50, "s3://bkt/p150", "--bandwidth", "100Mbps", "--dry-run", "--json", "--state-dir", stateDir)
		d := decodeRoute(t, r)
		if r.code != 0 || d.Route == nil || d.Route.Chosen != "network" || !d.DryRun || !strings.Contains(d.Route.Reason, "against AWS DataSync (Basic) at 4.5 hours") {
			t.Fatalf("exit %d, document %+v\n%s", r.code, d, r.stderr)
		}
		mustContain(t, "stderr", r.stderr, "shard-000.bin -> s3://")
	})

	t.Run("copy 150GiB with nothing known probes the link", func(t *testing.T) {
		r := airlift(t, srv, "copy", one50, "s3://bkt/probe", "--dry-run", "--json", "--state-dir", stateDir)
		d := decodeRoute(t, r)
		if r.code != 0 || d.Route == nil || !d.Route.Probed || !strings.Contains(d.Route.Link.From, "probe") {
			t.Fatalf("exit %d, document %+v\n%s", r.code, d, r.stderr)
		}
		if left := keys(t, srv, "bkt", "probe/"); len(left) != 0 {
			t.Errorf("the probe left %v behind", left)
		}
	})

	t.Run("copy 22TB --deadline 12h --datasync-agents 4 without DataSync settings", func(t *testing.T) {
		r := airlift(t, srv, append([]string{"copy", twenty, "s3://bkt/ds"}, bigDS...)...)
		if r.code != 2 {
			t.Fatalf("exit %d, want 2: %s%s", r.code, r.stdout, r.stderr)
		}
		mustContain(t, "stdout", r.stdout, "airlift datasync nfs://FILER/EXPORT/PATH s3://bkt/ds --agent-arn AGENT_ARN --role-arn ROLE_ARN")
		mustContain(t, "stdout", r.stdout, "30.6 hours at 200 MB/s")
		mustContain(t, "stderr", r.stderr, "nothing was written")
		r = airlift(t, srv, append([]string{"copy", twenty, "s3://bkt/ds", "--json"}, bigDS...)...)
		d := decodeRoute(t, r)
		if r.code != 2 || d.Route == nil || d.Route.Chosen != "datasync" || d.ExitCode != 2 || len(d.Next) != 1 || d.Error == "" {
			t.Errorf("exit %d, document %+v", r.code, d)
		}
		if got := keys(t, srv, "bkt", "ds/"); len(got) != 0 {
			t.Errorf("wrote %v", got)
		}
	})

	t.Run("copy 22TB --pack --deadline 12h --datasync-agents 4 refuses DataSync", func(t *testing.T) {
		r := airlift(t, srv, append([]string{"copy", twenty, "s3://bkt/dspack", "--pack", "--json"}, bigDS...)...)
		d := decodeRoute(t, r)
		if r.code != 2 || d.Route == nil || d.Route.Chosen != "datasync" || !strings.Contains(d.Error, "--pack") {
			t.Errorf("exit %d, document %+v", r.code, d)
		}
		mustContain(t, "stderr", r.stderr, "not into shards with an index as --pack asks: nothing was written")
		if got := keys(t, srv, "bkt", "dspack/"); len(got) != 0 {
			t.Errorf("wrote %v", got)
		}
	})

	t.Run("copy SMALLFILES --pack estimates the shards' requests", func(t *testing.T) {
		files := map[string]int{}
		for i := range 40 {
			files[fmt.Sprintf("d/%02d.json", i)] = 100 + i
		}
		src := tree(t, files)
		for _, c := range []struct {
			args []string
			own  int64 // requests of the network route
		}{
			{nil, 40},
			{[]string{"--pack"}, 6}, // one shard: create, a part, complete, tag; the index and shards.json
		} {
			r := airlift(t, srv, append([]string{"copy", src, "s3://bkt/est", "--dry-run", "--json", "-q", "--state-dir", stateDir}, c.args...)...)
			d := decodeRoute(t, r)
			if r.code != 0 || d.Route == nil || d.Route.Chosen != "network" {
				t.Fatalf("%v: exit %d, document %+v\n%s", c.args, r.code, d, r.stderr)
			}
			for _, e := range d.Route.Estimates {
				want := int64(40)
				if e.Name == "network" || e.Name == "transfer-acceleration" {
					want = c.own
				}
				if e.Requests != want {
					t.Errorf("%v: %s estimated on %d requests, want %d", c.args, e.Name, e.Requests, want)
				}
			}
		}
	})

	t.Run("copy 22TB --deadline 12h --datasync-agents 4 --datasync-source", func(t *testing.T) {
		ds := datasynctest.Start(t)
		r := runDS(t, dsArgs(ds, append([]string{"copy", twenty, "s3://airlift-bucket/ds", "--json", "--datasync-source", "nfs://filer/export/data"}, bigDS...)...)...)
		d := decodeRoute(t, r)
		if r.code != 0 || d.Route == nil || d.Route.Chosen != "datasync" || d.Status != "SUCCESS" {
			t.Fatalf("exit %d, document %+v\n%s", r.code, d, r.stderr)
		}
		if n := len(ds.Calls("CreateLocationNfs")); n != 1 {
			t.Errorf("CreateLocationNfs sent %d times", n)
		}
		// The same settings from a routes file.
		routes := filepath.Join(t.TempDir(), "routes.json")
		body := fmt.Sprintf(`{"routes":[{"root":%q,"source":"nfs://filer/export/data","agent_arns":[%q],"role_arn":%q}]}`, filepath.Dir(twenty), testAgent, testRole)
		if err := os.WriteFile(routes, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		r = runDS(t, append([]string{"copy", twenty, "s3://airlift-bucket/ds", "--routes", routes, "--datasync-endpoint-url", ds.URL, "--poll-interval", "5ms"}, bigDS...)...)
		if r.code != 0 {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		mustContain(t, "stderr", r.stderr, "airlift: route datasync")
		mustContain(t, "stdout", r.stdout, "datasync SUCCESS")
		locs := ds.Calls("CreateLocationNfs")
		if len(locs) != 2 || !strings.HasSuffix(fmt.Sprint(locs[1].Body["Subdirectory"]), "/export/data/"+filepath.Base(twenty)) {
			t.Errorf("routes file: NFS locations %v", locs)
		}
	})

	t.Run("copy 550TB --bandwidth 1Gbps", func(t *testing.T) {
		r := airlift(t, srv, "copy", huge, "s3://bkt/phys", "--bandwidth", "1Gbps")
		if r.code != 2 {
			t.Fatalf("exit %d, want 2: %s%s", r.code, r.stdout, r.stderr)
		}
		for _, want := range []string{"Route: physical", "Data Transfer Terminal: about", "3 x 210 TB device(s), about 10 days turnaround",
			fmt.Sprintf("airlift snowball job-spec --bucket bkt --dataset-bytes %d", 50*10*tib)} {
			mustContain(t, "stdout", r.stdout, want)
		}
		r = airlift(t, srv, "copy", huge, "s3://bkt/phys", "--bandwidth", "1Gbps", "--json")
		d := decodeRoute(t, r)
		if r.code != 2 || d.Route == nil || d.Route.Chosen != "physical" || d.Route.Recommended != "data-transfer-terminal" || len(d.Next) != 2 {
			t.Errorf("exit %d, document %+v", r.code, d)
		}
		if got := keys(t, srv, "bkt", "phys/"); len(got) != 0 {
			t.Errorf("wrote %v", got)
		}
	})

	// --via network forces the upload: it starts (a dry run, so as not to
	// send terabytes) and no route is decided.
	for _, c := range []struct {
		name string
		src  string
		args []string
	}{
		{"copy 550TB --via network", huge, []string{"--bandwidth", "1Gbps"}},
		{"copy 22TB --via network", twenty, bigDS},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := airlift(t, srv, append([]string{"copy", c.src, "s3://bkt/forced", "--via", "network", "--dry-run", "--json"}, c.args...)...)
			d := decodeRoute(t, r)
			if r.code != 0 || d.Route != nil || !d.DryRun || d.Files == 0 {
				t.Fatalf("exit %d, document %+v\n%s", r.code, d, r.stderr)
			}
			mustContain(t, "stderr", r.stderr, "shard-000.bin -> s3://")
		})
	}

	t.Run("sync 150GiB --deadline 1h --bandwidth 100Mbps --dry-run", func(t *testing.T) {
		r := airlift(t, srv, "sync", one50, "s3://bkt/sync", "--deadline", "1h", "--bandwidth", "100Mbps", "--dry-run", "--state-dir", stateDir)
		if r.code != 0 {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		mustContain(t, "stderr", r.stderr, "warning: SRC holds 161.1 GB in 1 files: sending it over the network takes about 4.5 hours")
		r = airlift(t, srv, "sync", one50, "s3://bkt/sync", "--deadline", "5h", "--bandwidth", "100Mbps", "--dry-run", "--state-dir", stateDir)
		if r.code != 0 || strings.Contains(r.stderr, "warning: SRC holds") {
			t.Errorf("exit %d, a deadline met warned: %s", r.code, r.stderr)
		}
	})

	t.Run("copy --via bogus", func(t *testing.T) {
		r := airlift(t, srv, "copy", one50, "s3://bkt/x", "--via", "bogus")
		if r.code != 2 {
			t.Fatalf("exit %d", r.code)
		}
		mustContain(t, "stderr", r.stderr, "unknown --via \"bogus\" (want auto, network, datasync, transfer-acceleration, physical)")
	})

	// plan and copy --via auto resolve the same figures and choose alike.
	t.Run("plan and copy --via auto agree", func(t *testing.T) {
		for _, c := range []struct {
			src  string
			args []string
			want string
		}{
			{one50, []string{"--bandwidth", "100Mbps"}, "network"},
			{twenty, bigDS, "datasync-basic"},
			{twenty, []string{"--bandwidth", "10Gbps", "--deadline", "12h"}, "network"},
			{huge, []string{"--bandwidth", "1Gbps"}, "data-transfer-terminal"},
			{huge, []string{"--bandwidth", "1Gbps", "--deadline", "1d"}, "data-transfer-terminal"},
		} {
			p := airlift(t, srv, append([]string{"plan", c.src, "--json", "-q", "--sample", "0"}, c.args...)...)
			var pl struct {
				Estimate struct{ Recommended string } `json:"estimate"`
			}
			if p.code != 0 || json.Unmarshal([]byte(p.stdout), &pl) != nil {
				t.Fatalf("plan: exit %d %s", p.code, p.stderr)
			}
			r := airlift(t, srv, append([]string{"copy", c.src, "s3://bkt/agree", "--json", "--dry-run"}, c.args...)...)
			d := decodeRoute(t, r)
			if d.Route == nil || d.Route.Recommended != pl.Estimate.Recommended || d.Route.Recommended != c.want {
				t.Errorf("%v: plan recommends %s, copy chose %+v; want %s", c.args, pl.Estimate.Recommended, d.Route, c.want)
			}
		}
	})
}
