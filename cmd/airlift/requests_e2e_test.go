package main

import (
	"encoding/json"
	"fmt"
	"maps"
	"testing"

	"github.com/airlift-io/airlift/internal/s3test"
)

// TestE2ERequestCounts: copy --json counts the requests it made by S3
// operation, and the counts are the ones a recording proxy saw on the
// wire: one PutObject per small file unpacked; with --pack a handful of
// requests per shard, whatever the number of files.
func TestE2ERequestCounts(t *testing.T) {
	srv := s3test.Start(t, s3test.Options{})
	srv.CreateBucket(t, "req")
	files := map[string]int{"big.bin": 6 * mib}
	for i := range 60 {
		files[fmt.Sprintf("small/%02d.json", i)] = 200 + i
	}
	src := tree(t, files)
	for _, c := range []struct {
		name string
		args []string
		puts func(n map[string]int64) bool
	}{
		{"one object per file", nil, func(n map[string]int64) bool { return n["PutObject"] == 60 && n["UploadPart"] == 2 }},
		{"packed", []string{"--pack", "--shard-size", "1MiB"}, func(n map[string]int64) bool {
			return n["PutObject"] > 0 && n["PutObject"] <= 4 && n["CreateMultipartUpload"] == 1 // the big file; shards.json, the index and a shard or two
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			rec := srv.Record(t)
			args := append([]string{"--endpoint-url", rec.URL, "copy", src, "s3://req/" + fmt.Sprint(len(c.args)), "--part-size", "5MiB", "--json", "-q", "--no-journal"}, c.args...)
			r := airliftEnv(t, nil, srv.Env(), args...)
			wantCode(t, r, 0)
			var rep struct {
				Requests map[string]int64 `json:"requests"`
			}
			if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
				t.Fatalf("--json: %v\n%s", err, r.stdout)
			}
			seen := map[string]int64{}
			for _, q := range rec.Requests() {
				op, _, _ := q.Operation()
				seen[op]++
			}
			if !maps.Equal(rep.Requests, seen) {
				t.Errorf("report counts %v, the proxy saw %v", rep.Requests, seen)
			}
			if !c.puts(rep.Requests) || rep.Requests["HeadBucket"] != 1 {
				t.Errorf("requests %v", rep.Requests)
			}
		})
	}
}
