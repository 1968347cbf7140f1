package outcome

import (
	"context"
	"errors"
	"fmt"
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
