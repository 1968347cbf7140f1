package main

// End-to-end tests: the airlift binary, built once, run as a subprocess
// against a real versitygw on 127.0.0.1, results cross-checked with the aws
// CLI and b3sum. Cases are named after their command lines.

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/airlift-io/airlift/internal/s3test"
)

var airliftBin string

func TestMain(m *testing.M) {
	flag.Parse() // testing.Short below needs the flags parsed
	dir, err := os.MkdirTemp("", "airlift-e2e")
	if err != nil {
		panic(err)
	}
	airliftBin = filepath.Join(dir, "airlift")
	build := exec.Command("go", "build", "-race", "-o", airliftBin, ".")
	if testing.Short() || os.Getenv("AIRLIFT_E2E_NORACE") == "1" {
		build = exec.Command("go", "build", "-o", airliftBin, ".")
	}
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building airlift:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// result of one airlift run.
type result struct {
	code           int
	stdout, stderr string
}

// airlift runs the binary against srv with args; the endpoint flag is
// added for every command that talks to S3.
func airlift(t *testing.T, srv *s3test.Server, args ...string) result {
	t.Helper()
	return airliftEnv(t, srv, nil, args...)
}

func airliftEnv(t *testing.T, srv *s3test.Server, extraEnv []string, args ...string) result {
	t.Helper()
	if srv != nil {
		args = append(args, "--endpoint-url", srv.URL)
		if srv.CACert != "" {
			args = append(args, "--ca-bundle", srv.CACert)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, airliftBin, args...)
	if srv != nil {
		cmd.Env = append(srv.Env(), extraEnv...)
	} else {
		cmd.Env = append(os.Environ(), extraEnv...)
	}
	return runCmd(t, cmd)
}

// runCmd runs a prepared airlift process and collects its exit code and
// output; a process that cannot be started fails the test.
func runCmd(t *testing.T, cmd *exec.Cmd) result {
	t.Helper()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("running airlift: %v", err)
	}
	return result{code: code, stdout: out.String(), stderr: errb.String()}
}

// tree and sameTree are the shared fixtures of internal/s3test.
func tree(t *testing.T, files map[string]int) string { return s3test.Tree(t, files) }

func sameTree(t *testing.T, want, got string) { s3test.SameTree(t, want, got) }

func mustContain(t *testing.T, what, s, sub string) {
	t.Helper()
	if !strings.Contains(s, sub) {
		t.Errorf("%s does not contain %q:\n%s", what, sub, s)
	}
}

// airliftCmd prepares (without starting) an airlift process against srv.
func airliftCmd(srv *s3test.Server, args ...string) *exec.Cmd {
	args = append(args, "--endpoint-url", srv.URL)
	cmd := exec.Command(airliftBin, args...)
	cmd.Env = srv.Env()
	return cmd
}
