package iam

import (
	"slices"
	"strings"
)

// Request is what IAM evaluates for one call: the action, the resource's
// ARN and the condition keys the service puts in the request context
// (s3:prefix for a listing with a prefix, iam:PassedToService, ...).
type Request struct {
	Action   string
	Resource string
	Context  map[string]string
}

// Allows reports which statement of p allows r, the way IAM evaluates an
// identity policy made of Allow statements: the action and the resource
// match (with * and ? wildcards; actions case-insensitively) and every
// condition holds. It knows the operators airlift's policies use:
// StringEquals, StringLike and their IfExists forms; any other operator
// fails closed.
func (p Policy) Allows(r Request) (sid string, ok bool) {
	for _, s := range p.Statement {
		if s.Effect == "Allow" && s.matches(r) {
			return s.Sid, true
		}
	}
	return "", false
}

func (s Statement) matches(r Request) bool {
	if !anyMatch(s.Action, r.Action, strings.ToLower) || !anyMatch(s.Resource, r.Resource, nil) {
		return false
	}
	for op, keys := range s.Condition {
		base, ifExists := strings.CutSuffix(op, "IfExists")
		for key, vals := range keys {
			v, present := r.Context[key]
			if !present {
				if ifExists {
					continue
				}
				return false // a condition on a key the request lacks fails
			}
			var ok bool
			switch base {
			case "StringEquals":
				ok = slices.Contains(vals, v)
			case "StringLike":
				ok = anyMatch(vals, v, nil)
			default:
				return false
			}
			if !ok {
				return false
			}
		}
	}
	return true
}

func anyMatch(patterns []string, v string, fold func(string) string) bool {
	if fold != nil {
		v = fold(v)
	}
	for _, p := range patterns {
		if fold != nil {
			p = fold(p)
		}
		if globMatch(p, v) {
			return true
		}
	}
	return false
}

// globMatch is IAM's wildcard match: * is any run of characters
// (slashes included, unlike path.Match), ? is one character.
func globMatch(pattern, s string) bool {
	if !strings.ContainsAny(pattern, "*?") {
		return pattern == s
	}
	// By hand: path.Match's * stops at "/", IAM's does not.
	p, v := []rune(pattern), []rune(s)
	var match func(i, j int) bool
	match = func(i, j int) bool {
		for i < len(p) {
			switch p[i] {
			case '*':
				for k := j; k <= len(v); k++ {
					if match(i+1, k) {
						return true
					}
				}
				return false
			case '?':
				if j >= len(v) {
					return false
				}
			default:
				if j >= len(v) || v[j] != p[i] {
					return false
				}
			}
			i++
			j++
		}
		return j == len(v)
	}
	return match(0, 0)
}
