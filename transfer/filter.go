package transfer

import (
	"fmt"
	"path"
	"regexp"
	"strings"
)

// Filter selects files by glob. A pattern without a slash matches a file's
// base name at any depth ("*.tmp"); a pattern with one matches the whole
// slash-separated path from the source root ("logs/**/*.gz"). "*" and "?"
// stop at slashes, "**" crosses them. A file is sent when it matches no
// exclude and, if any include is given, at least one include.
type Filter struct {
	include, exclude []*regexp.Regexp
	anchored         []bool
	incAnchored      []bool
}

// NewFilter compiles the patterns; it reports the first bad one.
func NewFilter(include, exclude []string) (*Filter, error) {
	f := &Filter{}
	for _, p := range include {
		re, err := globRegexp(p)
		if err != nil {
			return nil, fmt.Errorf("--include %q: %w", p, err)
		}
		f.include = append(f.include, re)
		f.incAnchored = append(f.incAnchored, strings.Contains(p, "/"))
	}
	for _, p := range exclude {
		re, err := globRegexp(p)
		if err != nil {
			return nil, fmt.Errorf("--exclude %q: %w", p, err)
		}
		f.exclude = append(f.exclude, re)
		f.anchored = append(f.anchored, strings.Contains(p, "/"))
	}
	return f, nil
}

// Match reports whether the file at rel (slash-separated) is selected.
func (f *Filter) Match(rel string) bool {
	if f == nil {
		return true
	}
	base := path.Base(rel)
	for i, re := range f.exclude {
		if re.MatchString(pick(f.anchored[i], rel, base)) {
			return false
		}
	}
	if len(f.include) == 0 {
		return true
	}
	for i, re := range f.include {
		if re.MatchString(pick(f.incAnchored[i], rel, base)) {
			return true
		}
	}
	return false
}

// Empty reports whether the filter selects everything.
func (f *Filter) Empty() bool { return f == nil || len(f.include)+len(f.exclude) == 0 }

func pick(anchored bool, rel, base string) string {
	if anchored {
		return rel
	}
	return base
}

func globRegexp(p string) (*regexp.Regexp, error) {
	if p == "" {
		return nil, fmt.Errorf("empty pattern")
	}
	p = strings.TrimPrefix(p, "/")
	var b strings.Builder
	b.WriteString("^")
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch c {
		case '*':
			if i+1 < len(p) && p[i+1] == '*' {
				i++
				if i+1 < len(p) && p[i+1] == '/' { // "**/" also matches no directory
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
			j := strings.IndexByte(p[i:], ']')
			if j < 0 {
				return nil, fmt.Errorf("unclosed [")
			}
			class := p[i+1 : i+j]
			if strings.HasPrefix(class, "!") {
				class = "^" + class[1:]
			}
			b.WriteString("[" + class + "]")
			i += j
		case '\\':
			if i+1 < len(p) {
				i++
				b.WriteString(regexp.QuoteMeta(string(p[i])))
			}
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	b.WriteString("$")
	return regexp.Compile(b.String())
}
