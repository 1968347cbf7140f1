package transfer

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func cursor(keys ...string) *SliceCursor[string] {
	return &SliceCursor[string]{Items: keys, Key: func(s string) string { return s }}
}

func TestMerge(t *testing.T) {
	cases := []struct {
		name  string
		a, b  []string
		steps []string // Until limits, then All
		want  string
		err   string
	}{
		{"both empty", nil, nil, nil, "", ""},
		{"disjoint", []string{"a", "c"}, []string{"b", "d"}, nil, "a< b> c< d>", ""},
		{"same keys", []string{"a", "b"}, []string{"a", "b"}, nil, "a<> b<>", ""},
		{"one side", []string{"x/1", "x/2"}, nil, nil, "x/1< x/2<", ""},
		{"byte order", []string{"Z", "a"}, []string{"_"}, nil, "Z< _> a<", ""},
		{"in steps", []string{"a", "c", "e"}, []string{"b", "e"}, []string{"c", "c", "d"}, "a< b> | | c< | e<>", ""},
		{"a goes back", []string{"b", "a"}, nil, nil, "b<", "out of key order"},
		{"b repeats", nil, []string{"a", "a"}, nil, "a>", "out of key order"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := NewMerge[string, string](cursor(c.a...), cursor(c.b...))
			var got []string
			fn := func(k string, a, b *string) error {
				s := k
				if a != nil {
					s += "<"
				}
				if b != nil {
					s += ">"
				}
				got = append(got, s)
				return nil
			}
			var err error
			for _, l := range c.steps {
				if err = m.Until(l, fn); err != nil {
					break
				}
				got = append(got, "|")
			}
			if err == nil {
				err = m.All(fn)
			}
			if g := strings.Join(got, " "); g != c.want {
				t.Errorf("got %q, want %q", g, c.want)
			}
			if (err == nil) != (c.err == "") || err != nil && !strings.Contains(err.Error(), c.err) {
				t.Errorf("err = %v, want %q", err, c.err)
			}
		})
	}
}

func TestMergeStopsOnError(t *testing.T) {
	boom := errors.New("boom")
	n := 0
	err := NewMerge[string, string](cursor("a", "b", "c"), cursor()).All(func(string, *string, *string) error {
		n++
		if n == 2 {
			return fmt.Errorf("at b: %w", boom)
		}
		return nil
	})
	if !errors.Is(err, boom) || n != 2 {
		t.Errorf("err %v after %d calls", err, n)
	}
}
