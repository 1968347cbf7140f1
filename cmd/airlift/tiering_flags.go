package main

import (
	"github.com/spf13/pflag"

	"github.com/airlift-io/airlift/internal/outcome"
	"github.com/airlift-io/airlift/transfer"
)

// classRuleFlags are --storage-class-rule: each object's storage class
// from its source file's age.
type classRuleFlags struct{ rules []string }

func (c *classRuleFlags) register(fl *pflag.FlagSet) {
	fl.StringArrayVar(&c.rules, "storage-class-rule", nil, "storage class by the source file's age, e.g. 'atime>180d=GLACIER_IR' or 'mtime>365d=DEEP_ARCHIVE'; repeatable, the first match wins, else --storage-class")
}

// parse parses the rules, in order.
func (c *classRuleFlags) parse() ([]transfer.ClassRule, error) {
	var rules []transfer.ClassRule
	for _, s := range c.rules {
		r, err := transfer.ParseClassRule(s)
		if err != nil {
			return nil, outcome.Usagef("--storage-class-rule: %v", err)
		}
		rules = append(rules, r)
	}
	return rules, nil
}
