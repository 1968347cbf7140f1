package s3test

import (
	"os/exec"
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
