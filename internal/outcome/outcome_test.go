package outcome

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
)

type selfClassed struct{}

func (selfClassed) Error() string       { return "bucket missing" }
func (selfClassed) OutcomeClass() Class { return Usage }

func TestOf(t *testing.T) {
	cases := []struct {
		name string
		err  error
		want Class
	}{
		{"nil", nil, Done},
		{"plain error", errors.New("boom"), Failed},
		{"cancelled", fmt.Errorf("PutObject: %w", context.Canceled), Interrupted},
		{"usage", Usagef("bad flag"), Usage},
		{"wrapped usage", fmt.Errorf("copy: %w", Usagef("bad")), Usage},
		{"self-classed", fmt.Errorf("x: %w", selfClassed{}), Usage},
		{"outer class wins", Failedf("run: %w", Usagef("inner")), Failed},
		{"interrupted", Interruptedf("stopped"), Interrupted},
		{"As nil", As(Usage, nil), Done},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := Of(c.err); got != c.want {
				t.Errorf("Of(%v) = %v, want %v", c.err, got, c.want)
			}
		})
	}
}

func TestOptionErrorRender(t *testing.T) {
	e := &OptionError{Option: "SSEKMSKeyID", Problem: "a KMS key id needs {SSE} aws:kms; see {Other}"}
	if got := e.Error(); got != "a KMS key id needs SSE aws:kms; see Other" {
		t.Errorf("Error() = %q", got)
	}
	flag := func(o string) string { return "--" + strings.ToLower(o) }
	if got := e.Render(flag); got != "a KMS key id needs --sse aws:kms; see --other" {
		t.Errorf("Render = %q", got)
	}
	if Of(fmt.Errorf("x: %w", e)) != Usage {
		t.Error("an OptionError is a usage error")
	}
}
