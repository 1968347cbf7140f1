package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestSnowballJobSpecE2E writes a job specification and hands it to the
// aws CLI's own create-job, pointed at a closed port: the CLI checks the
// input against the Snowball API model before it connects, so reaching
// the connection error proves the file is accepted.
func TestSnowballJobSpecE2E(t *testing.T) {
	awsBin, err := exec.LookPath("aws")
	if err != nil {
		t.Skip("aws CLI not installed")
	}
	spec := filepath.Join(t.TempDir(), "job.json")
	r := airlift(t, nil, "snowball", "job-spec", "--bucket", "ml-datasets", "--dataset-bytes", "500TB",
		"--key-range-begin", "images/", "--key-range-end", "images/~", "--out", spec)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	mustContain(t, "stderr", r.stderr, "needs 3 x Snowball Edge Storage Optimized 210 TB")
	var js map[string]any
	b, _ := os.ReadFile(spec)
	if err := json.Unmarshal(b, &js); err != nil || js["JobType"] != "IMPORT" {
		t.Fatalf("spec: %v\n%s", err, b)
	}

	check := func(file string) string {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, awsBin, "snowball", "create-job", "--region", "us-east-1",
			"--endpoint-url", "http://127.0.0.1:9", "--cli-connect-timeout", "1", "--cli-input-json", "file://"+file)
		cmd.Env = append(dataSyncEnv(), "AWS_MAX_ATTEMPTS=1")
		out, _ := cmd.CombinedOutput()
		return string(out)
	}
	out := check(spec)
	mustContain(t, "aws snowball create-job", out, "Could not connect to the endpoint URL")

	// The check has teeth: a field create-job does not know is refused.
	js["NotAField"] = "x"
	b, _ = json.Marshal(js)
	bad := filepath.Join(t.TempDir(), "bad.json")
	_ = os.WriteFile(bad, b, 0o644)
	mustContain(t, "aws snowball create-job", check(bad), "Unknown parameter")

	r = airlift(t, nil, "snowball", "job-spec", "--bucket", "ml-datasets")
	if r.code != 2 {
		t.Fatalf("without --dataset-bytes: exit %d", r.code)
	}

	// plan writes the same specification for the dataset it scanned.
	src := tree(t, map[string]int{"a.bin": 3000, "b/c.bin": 5000})
	planned := filepath.Join(t.TempDir(), "plan-job.json")
	r = airlift(t, nil, "plan", src, "--snowball-job", planned, "--snowball-bucket", "ml-datasets", "--snowball-device-type", "EDGE_S", "-q")
	if r.code != 0 {
		t.Fatalf("plan --snowball-job: exit %d: %s", r.code, r.stderr)
	}
	mustContain(t, "stderr", r.stderr, "1 x Snowball Edge Storage Optimized 80 TB")
	mustContain(t, "stdout", r.stdout, "Snowball Edge") // --snowball-job implies --existing-snowball-customer
	b, _ = os.ReadFile(planned)
	var ps struct {
		SnowballType string
		Resources    struct{ S3Resources []struct{ BucketArn string } }
	}
	if err := json.Unmarshal(b, &ps); err != nil || ps.SnowballType != "EDGE_S" || ps.Resources.S3Resources[0].BucketArn != "arn:aws:s3:::ml-datasets" {
		t.Fatalf("plan's job spec: %v\n%s", err, b)
	}
	mustContain(t, "aws snowball create-job", check(planned), "Could not connect to the endpoint URL")
	if r := airlift(t, nil, "plan", src, "--snowball-job", planned); r.code != 2 {
		t.Errorf("plan --snowball-job without --snowball-bucket: exit %d", r.code)
	}
}
