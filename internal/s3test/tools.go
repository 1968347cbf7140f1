package s3test

import (
	"io/fs"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// AWSCLI returns the path of the aws CLI (Debian's awscli), skipping or
// failing t as Require does when it is missing.
func AWSCLI(t testing.TB) string {
	t.Helper()
	p := ""
	for _, c := range []string{"/usr/bin/aws", "aws"} {
		if q, err := exec.LookPath(c); err == nil {
			p = q
			break
		}
	}
	Require(t, "aws CLI", p)
	return p
}

// B3Sum returns the BLAKE3 of a file as computed by b3sum (Debian's
// b3sum), an implementation airlift does not share.
func B3Sum(t testing.TB, path string) string {
	t.Helper()
	p, _ := exec.LookPath("b3sum")
	Require(t, "b3sum", p)
	out, err := exec.Command(p, "--no-names", path).Output()
	if err != nil {
		t.Fatalf("b3sum %s: %v", path, err)
	}
	return strings.TrimSpace(string(out))
}

// AWS runs the aws CLI against s and returns its combined output.
func (s *Server) AWS(t testing.TB, args ...string) string {
	t.Helper()
	cmd := exec.Command(AWSCLI(t), append([]string{"--endpoint-url", s.URL}, args...)...)
	cmd.Env = s.Env()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("aws %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// B3SumTree runs b3sum once over every regular file under root and returns
// slash-separated relative path -> digest.
func B3SumTree(t testing.TB, root string) map[string]string {
	t.Helper()
	p, _ := exec.LookPath("b3sum")
	Require(t, "b3sum", p)
	var files []string
	filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			files = append(files, path)
		}
		return err
	})
	out := map[string]string{}
	for len(files) > 0 {
		n := min(len(files), 500)
		batch := files[:n]
		files = files[n:]
		res, err := exec.Command(p, append([]string{"--"}, batch...)...).Output()
		if err != nil {
			t.Fatalf("b3sum: %v", err)
		}
		// One line per file, in argument order: "HEX  NAME". Names with
		// newlines or backslashes are escaped by b3sum, so map by order.
		lines := strings.Split(strings.TrimRight(string(res), "\n"), "\n")
		if len(lines) != len(batch) {
			t.Fatalf("b3sum printed %d lines for %d files", len(lines), len(batch))
		}
		for i, l := range lines {
			rel, _ := filepath.Rel(root, batch[i])
			out[filepath.ToSlash(rel)] = strings.TrimPrefix(strings.Fields(l)[0], "\\")
		}
	}
	return out
}
