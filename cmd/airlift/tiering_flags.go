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

// apply parses the rules into o.
func (c *classRuleFlags) apply(o *transfer.UploadOptions) error {
	for _, s := range c.rules {
		r, err := transfer.ParseClassRule(s)
		if err != nil {
			return outcome.Usagef("--storage-class-rule: %v", err)
		}
		o.ClassRules = append(o.ClassRules, r)
	}
	return nil
}
