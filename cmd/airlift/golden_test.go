package main

// Golden files under testdata/golden: every command's --help text (run
// in-process) and the shape of every --json report (key paths and value
// types, run against the local server). They pin what users and scripts
// see, so that moving code between the CLI and the engine cannot change it
// unnoticed. `go test ./cmd/airlift -run Golden -update` rewrites them.

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/airlift-io/airlift/internal/datasynctest"
	"github.com/airlift-io/airlift/internal/s3test"
	"github.com/airlift-io/airlift/internal/state"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

const goldenDir = "../../testdata/golden"

// golden compares got with the named golden file, or writes it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	p := filepath.Join(goldenDir, name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if string(want) != got {
		t.Errorf("%s differs from the golden file (run with -update if the change is intended)\n--- want\n%s\n--- got\n%s", name, want, got)
	}
}

func TestGoldenHelp(t *testing.T) {
	cmds := [][]string{{}, {"copy"}, {"sync"}, {"verify"}, {"plan"}, {"bench"}, {"cleanup"}, {"status"},
		{"cat"}, {"compact"}, {"datasync"}, {"snowball"}, {"snowball", "job-spec"}, {"iam-policy"}}
	for _, c := range cmds {
		name := "airlift"
		if len(c) > 0 {
			name = strings.Join(c, "-")
		}
		t.Run(name, func(t *testing.T) {
			var out, errb bytes.Buffer
			if code := run(append(c, "--help"), &out, &errb); code != 0 {
				t.Fatalf("exit %d: %s", code, errb.String())
			}
			golden(t, "help/"+name+".txt", out.String())
		})
	}
}

// jsonShape lists every key path of a JSON document with the type of its
// value, one per line, sorted; array elements share the path "[]".
func jsonShape(t *testing.T, doc string) string {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(doc))
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("stdout is not one JSON document: %v\n%s", err, doc)
	}
	if dec.More() {
		t.Fatalf("stdout holds more than one JSON document:\n%s", doc)
	}
	set := map[string]bool{}
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch x := v.(type) {
		case map[string]any:
			set[path+" object"] = true
			for k, e := range x {
				walk(path+"."+k, e)
			}
		case []any:
			set[path+" array"] = true
			for _, e := range x {
				walk(path+"[]", e)
			}
		case string:
			set[path+" string"] = true
		case float64:
			set[path+" number"] = true
		case bool:
			set[path+" bool"] = true
		case nil:
			set[path+" null"] = true
		}
	}
	walk("$", v)
	lines := make([]string, 0, len(set))
	for l := range set {
		lines = append(lines, l)
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n") + "\n"
}

func TestGoldenJSONShapes(t *testing.T) {
	srv := s3test.Start(t, s3test.Options{})
	srv.CreateBucket(t, "bkt")
	src := tree(t, map[string]int{"a.txt": 10, "dir/b.bin": 6 * mib, "dir/c": 0})
	state := t.TempDir()
	dst := filepath.Join(t.TempDir(), "restore")
	ds := datasynctest.Start(t)

	cases := []struct {
		name string
		srv  *s3test.Server
		args []string
		code int
	}{
		{"copy", srv, []string{"copy", src, "s3://bkt/c", "--part-size", "5MiB", "--state-dir", state, "--json", "-q"}, 0},
		{"copy-download", srv, []string{"copy", "s3://bkt/c", dst, "--json", "-q"}, 0},
		{"verify", srv, []string{"verify", src, "s3://bkt/c", "--json", "-q"}, 0},
		{"verify-differs", srv, []string{"verify", src, "s3://bkt/elsewhere", "--json", "-q"}, 1},
		{"sync", srv, []string{"sync", src, "s3://bkt/s", "--state-dir", state, "--json"}, 0},
		{"status", srv, []string{"status", "s3://bkt/s", "--state-dir", state, "--json"}, 0},
		{"cleanup", srv, []string{"cleanup", "s3://bkt/c", "--state-dir", state, "--json"}, 0},
		{"plan", nil, []string{"plan", src, "--json", "-q"}, 0},
		{"bench", srv, []string{"bench", "s3://bkt/b", "--json", "-q", "--concurrency", "1", "--part-sizes", "5MiB",
			"--cell-time", "100ms", "--cell-bytes", "5MiB", "--cpu-time", "50ms", "--small-time", "100ms", "--small-concurrency", "2"}, 0},
		{"iam-policy", nil, []string{"iam-policy", "copy", "s3://bkt/c", "--sse", "aws:kms", "--sse-kms-key-id", "k", "--json"}, 0},
		{"datasync-dry-run", nil, []string{"datasync", "nfs://filer/export/data", "s3://bkt/d", "--dry-run", "--json",
			"--agent-arn", testAgent, "--role-arn", testRole}, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var r result
			if c.name == "datasync-dry-run" {
				r = runDS(t, append(c.args, "--datasync-endpoint-url", ds.URL)...)
			} else {
				r = airlift(t, c.srv, c.args...)
			}
			if r.code != c.code {
				t.Fatalf("exit %d, want %d\n%s%s", r.code, c.code, r.stdout, r.stderr)
			}
			golden(t, fmt.Sprintf("json/%s.shape", c.name), jsonShape(t, r.stdout))
		})
	}
}

// Every command given --json writes exactly one JSON document to stdout
// in every outcome: failure, refusal, dry run and a skipped run alike
// (the successes are the golden shapes above).
func TestJSONInEveryOutcome(t *testing.T) {
	srv := s3test.Start(t, s3test.Options{})
	srv.CreateBucket(t, "bkt")
	src := tree(t, map[string]int{"a.txt": 10, "b/c.bin": 100})
	stateDir := t.TempDir()

	// Another sync of s3://bkt/locked holds the destination's store.
	held, err := state.Open(stateDir, state.Dest{Endpoint: srv.URL, Bucket: "bkt", Prefix: "locked"}, state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()

	cases := []struct {
		name string
		args []string
		code int
	}{
		{"copy --dry-run", []string{"copy", src, "s3://bkt/p", "--dry-run"}, 0},
		{"copy to a missing bucket", []string{"copy", src, "s3://nobucket/p"}, 2},
		{"copy --part-size bogus", []string{"copy", src, "s3://bkt/p", "--part-size", "bogus"}, 2},
		{"copy --no-such-flag", []string{"copy", src, "s3://bkt/p", "--no-such-flag"}, 2},
		{"copy --pack --dry-run", []string{"copy", src, "s3://bkt/p", "--pack", "--dry-run"}, 0},
		{"copy --pack --shard-size 1KiB", []string{"copy", src, "s3://bkt/p", "--pack", "--shard-size", "1KiB"}, 2},
		{"copy --shard-count without --pack", []string{"copy", src, "s3://bkt/p", "--shard-count", "5"}, 2},
		{"download --pack", []string{"copy", "s3://bkt/p", t.TempDir() + "/d", "--pack"}, 2},
		{"compact of a prefix not packed", []string{"compact", "s3://bkt/p"}, 2},
		{"compact --below 0%", []string{"compact", "s3://bkt/p", "--below", "0%"}, 2},
		{"copy of a missing source", []string{"copy", filepath.Join(src, "nothere"), "s3://bkt/p"}, 2},
		{"download of nothing", []string{"copy", "s3://bkt/nothing-here", t.TempDir() + "/d"}, 1},
		{"download --dry-run", []string{"copy", "s3://bkt/p", t.TempDir() + "/d", "--dry-run"}, 1},
		{"verify against a missing bucket", []string{"verify", src, "s3://nobucket/p"}, 2},
		{"sync while another holds the destination", []string{"sync", src, "s3://bkt/locked", "--state-dir", stateDir}, 0},
		{"sync --fail-if-locked", []string{"sync", src, "s3://bkt/locked", "--state-dir", stateDir, "--fail-if-locked"}, 1},
		{"sync --dry-run", []string{"sync", src, "s3://bkt/s", "--state-dir", stateDir, "--dry-run"}, 0},
		{"status with nothing recorded", []string{"status", "s3://bkt/never", "--state-dir", stateDir}, 2},
		{"cleanup of a missing bucket", []string{"cleanup", "s3://nobucket/p", "--state-dir", stateDir}, 2},
		{"plan of a missing source", []string{"plan", filepath.Join(src, "nothere")}, 2},
		{"bench with a bad grid", []string{"bench", "s3://bkt/b", "--concurrency", "0"}, 2},
		{"datasync of a bad source", []string{"datasync", "ftp://x/y", "s3://bkt/d"}, 2},
		{"iam-policy sync", []string{"iam-policy", "sync", "s3://bkt/s", "--delete"}, 0},
		{"iam-policy datasync without --role-arn", []string{"iam-policy", "datasync", "s3://bkt/d"}, 2},
		{"iam-policy of an unknown command", []string{"iam-policy", "rm", "s3://bkt/d"}, 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := airlift(t, srv, append(c.args, "--json")...)
			if r.code != c.code {
				t.Fatalf("exit %d, want %d\n%s%s", r.code, c.code, r.stdout, r.stderr)
			}
			jsonShape(t, r.stdout) // fails unless stdout is exactly one JSON document
			if c.code != 0 && !strings.Contains(r.stdout, `"error"`) && !strings.Contains(r.stdout, `"failures"`) {
				t.Errorf("a failed run's JSON says nothing of the failure:\n%s", r.stdout)
			}
		})
	}
}
