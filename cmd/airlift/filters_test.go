package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/spf13/pflag"

	"github.com/airlift-io/airlift/transfer"
)

// cobra keeps --include and --exclude apart; the order between them is
// what decides, so both must land in one list in the order typed.
func TestFilterFlagsKeepTheirOrder(t *testing.T) {
	var rules []transfer.Rule
	var inc, exc []string
	fl := pflag.NewFlagSet("copy", pflag.ContinueOnError)
	registerFilters(fl, &rules, &inc, &exc, "", "")
	if err := fl.Parse([]string{"--exclude", "*", "--include", "*.txt", "--exclude", "secret*"}); err != nil {
		t.Fatal(err)
	}
	var warn bytes.Buffer
	f, err := newFilter(&warn, rules)
	if err != nil {
		t.Fatal(err)
	}
	for rel, want := range map[string]bool{"a.txt": true, "d/b.txt": true, "a.bin": false, "secret.txt": false} {
		if got := f.Match(rel); got != want {
			t.Errorf("Match(%q) = %v, want %v", rel, got, want)
		}
	}
	if warn.Len() != 0 {
		t.Errorf("unexpected warning %q", warn.String())
	}
	if len(inc) != 1 || len(exc) != 2 {
		t.Errorf("per-flag lists %v %v", inc, exc)
	}
	if _, err := newFilter(&warn, []transfer.Rule{{Pattern: "*.txt"}}); err != nil || !strings.Contains(warn.String(), "changes nothing") {
		t.Errorf("an --include alone: warning %q, err %v", warn.String(), err)
	}
}
