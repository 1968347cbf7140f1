package transfer

import (
	"fmt"
	"path"
	"regexp"
	"strings"
	"sync/atomic"
	"unicode/utf8"
)

// Rule is one --include or --exclude pattern, in the order given.
type Rule struct {
	Exclude bool
	Pattern string
}

// Filter selects files by glob. A pattern without a slash matches a file's
// base name at any depth ("*.tmp"); a pattern with one matches the whole
// slash-separated path from the source root ("logs/**/*.gz"). "*" and "?"
// stop at slashes, "**" crosses them.
//
// Rules apply in order and the last one that matches a file decides, as
// in the aws CLI: `--exclude '*' --include '*.txt'` selects only .txt
// files. A file no rule matches takes the default (see NewFilterRules and
// NewFilter).
//
// Names are matched as the bytes they are: a name that is not valid UTF-8
// is still matched (an invalid byte matches itself, "?" and "*"), so such
// a file can be excluded like any other.
//
// A Filter counts what it is asked, so that a run can tell the user when
// its filters selected nothing; it is safe for concurrent use.
type Filter struct {
	rules []rule
	def   bool // the verdict when no rule matches

	asked, selected atomic.Int64

	// subset is the sample or slice a file must also be in (see
	// SetSubset); until a sample of a count is resolved, only the
	// rules apply, for Resolve's pass over the names.
	subset   Subset
	count    int
	resolved bool
}

type rule struct {
	exclude  bool
	anchored bool
	re       *regexp.Regexp
}

// NewFilterRules compiles rules that apply in order, the last match
// winning, over a default of including everything: the aws CLI's
// semantics. It reports the first bad pattern.
func NewFilterRules(rules []Rule) (*Filter, error) {
	f := &Filter{def: true, resolved: true}
	for _, r := range rules {
		if err := f.add(r); err != nil {
			return nil, err
		}
	}
	return f, nil
}

// NewFilter compiles an unordered set: a file is selected when it matches
// no exclude and, if any include is given, at least one include. It
// reports the first bad pattern.
func NewFilter(include, exclude []string) (*Filter, error) {
	f := &Filter{def: len(include) == 0, resolved: true}
	// Includes first, excludes after: the last match winning, an
	// exclude always beats an include.
	for _, p := range include {
		if err := f.add(Rule{Pattern: p}); err != nil {
			return nil, err
		}
	}
	for _, p := range exclude {
		if err := f.add(Rule{Exclude: true, Pattern: p}); err != nil {
			return nil, err
		}
	}
	return f, nil
}

func (f *Filter) add(r Rule) error {
	re, err := globRegexp(r.Pattern)
	if err != nil {
		kind := "include"
		if r.Exclude {
			kind = "exclude"
		}
		return fmt.Errorf("%s pattern %q: %w", kind, r.Pattern, err)
	}
	f.rules = append(f.rules, rule{exclude: r.Exclude, anchored: strings.Contains(r.Pattern, "/"), re: re})
	return nil
}

// Match reports whether the file at rel (slash-separated) is selected.
func (f *Filter) Match(rel string) bool {
	if f == nil {
		return true
	}
	ok := f.match(rel) && (!f.resolved || f.subset.Holds(rel))
	f.asked.Add(1)
	if ok {
		f.selected.Add(1)
	}
	return ok
}

func (f *Filter) match(rel string) bool {
	if len(f.rules) == 0 {
		return f.def
	}
	rel = byteRunes(rel)
	base := path.Base(rel)
	for i := len(f.rules) - 1; i >= 0; i-- {
		r := f.rules[i]
		if r.re.MatchString(pick(r.anchored, rel, base)) {
			return !r.exclude
		}
	}
	return f.def
}

// Empty reports whether the filter has no include/exclude rules (a
// sample or slice aside: they select by hash, not by name).
func (f *Filter) Empty() bool { return f == nil || len(f.rules) == 0 && f.def }

// forgetCounts starts the counts of SelectedNone over, for a walk over
// names the filter was already asked about.
func (f *Filter) forgetCounts() {
	if f != nil {
		f.asked.Store(0)
		f.selected.Store(0)
	}
}

// SelectedNone reports whether the filter was asked about at least one
// name and selected none: the patterns are probably not what the user
// meant. It returns how many names it passed over.
func (f *Filter) SelectedNone() (passed int64, none bool) {
	if f.Empty() {
		return 0, false
	}
	n := f.asked.Load()
	return n, n > 0 && f.selected.Load() == 0
}

// selectedNoneWarning is the warning SelectedNone calls for, or "".
func selectedNoneWarning(f *Filter) string {
	if n, none := f.SelectedNone(); none {
		return fmt.Sprintf("the include/exclude filters selected none of the %d name(s) they were given", n)
	}
	return ""
}

func pick(anchored bool, rel, base string) string {
	if anchored {
		return rel
	}
	return base
}

// byteRunes makes s valid UTF-8 without losing any byte: each byte of an
// invalid sequence becomes a rune of its own from a private-use range, so
// that a pattern and a name holding the same invalid byte still match,
// and "?" matches it as one character. Valid strings come back as they
// are.
func byteRunes(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			b.WriteRune(invalidByteBase + rune(s[i]))
		} else {
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// invalidByteBase starts the private-use runes byteRunes maps invalid
// bytes to (U+10FF00 to U+10FFFF: plane 16, which names do not use).
const invalidByteBase = 0x10FF00

func globRegexp(p string) (*regexp.Regexp, error) {
	if p == "" {
		return nil, fmt.Errorf("empty pattern")
	}
	p = byteRunes(strings.TrimPrefix(p, "/"))
	var b strings.Builder
	b.WriteString("^")
	rs := []rune(p)
	for i := 0; i < len(rs); i++ {
		c := rs[i]
		switch c {
		case '*':
			if i+1 < len(rs) && rs[i+1] == '*' {
				i++
				if i+1 < len(rs) && rs[i+1] == '/' { // "**/" also matches no directory
					i++
					b.WriteString("(?:.*/)?")
				} else {
					b.WriteString(".*")
				}
			} else {
				b.WriteString("[^/]*")
			}
		case '?':
			b.WriteString("[^/]")
		case '[':
			j := i + 1
			for j < len(rs) && rs[j] != ']' {
				j++
			}
			if j >= len(rs) {
				return nil, fmt.Errorf("unclosed [")
			}
			class := string(rs[i+1 : j])
			if strings.HasPrefix(class, "!") {
				class = "^" + class[1:]
			}
			b.WriteString("[" + class + "]")
			i = j
		case '\\':
			if i+1 < len(rs) {
				i++
				b.WriteString(regexp.QuoteMeta(string(rs[i])))
			}
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	b.WriteString("$")
	return regexp.Compile(b.String())
}
