package main

import (
	"bytes"
	"strings"
	"testing"
)

// Things users look for first: --version, shell completion, and copy's
// one-line help saying it downloads too.
func TestVersionCompletionAndCopyHelp(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"--version"}, &out, &errb); code != 0 || !strings.HasPrefix(out.String(), "airlift version ") {
		t.Errorf("--version: exit %d, %q %q", code, out.String(), errb.String())
	}
	for _, sh := range []string{"bash", "zsh", "fish"} {
		out.Reset()
		if code := run([]string{"completion", sh}, &out, &errb); code != 0 || !strings.Contains(out.String(), "airlift") {
			t.Errorf("completion %s: exit %d, %d bytes", sh, code, out.Len())
		}
	}
	out.Reset()
	run([]string{"--help"}, &out, &errb)
	if !strings.Contains(out.String(), "download") {
		t.Errorf("copy's one-line help does not mention download:\n%s", out.String())
	}
}
