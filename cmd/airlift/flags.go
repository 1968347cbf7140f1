package main

import (
	"fmt"
	"io"

	"github.com/spf13/pflag"

	"github.com/airlift-io/airlift/transfer"
)

// engineFlags size a transfer: part size, memory budget and how much is in
// flight. copy, sync, verify and download take the same four flags.
type engineFlags struct {
	partSize, maxMemory   string
	concurrency, partConc int
}

// engineHelp words the flags for one command.
type engineHelp struct {
	concurrency           int
	partSize, conc, parts string
}

var uploadHelp = engineHelp{
	concurrency: 64,
	partSize:    "multipart part size (default 8MiB, raised to fit 10,000 parts)",
	conc:        "files in flight",
	parts:       "multipart parts in flight across all files",
}

func (e *engineFlags) register(fl *pflag.FlagSet, h engineHelp) {
	fl.StringVar(&e.partSize, "part-size", "", h.partSize)
	fl.StringVar(&e.maxMemory, "max-memory", "160MiB", "memory budget for all buffers")
	fl.IntVar(&e.concurrency, "concurrency", h.concurrency, h.conc)
	fl.IntVar(&e.partConc, "part-concurrency", 16, h.parts)
}

// parse checks the flags, returns the part size (0 = default) and the
// memory budget, and tells the runtime about the budget.
func (e *engineFlags) parse() (partSize, maxMemory int64, err error) {
	if partSize, err = sizeFlag("part-size", e.partSize); err != nil {
		return 0, 0, err
	}
	if maxMemory, err = sizeFlag("max-memory", e.maxMemory); err != nil {
		return 0, 0, err
	}
	if e.concurrency < 1 || e.partConc < 1 {
		return 0, 0, usageErr("--concurrency and --part-concurrency must be at least 1")
	}
	applyMemoryLimit(maxMemory)
	return partSize, maxMemory, nil
}

// registerObjectFlags adds the attributes every new object gets; copy and
// sync share them.
func (f *copyFlags) registerObjectFlags(fl *pflag.FlagSet) {
	fl.StringVar(&f.storageClass, "storage-class", "", "storage class for new objects, e.g. STANDARD_IA, INTELLIGENT_TIERING")
	fl.StringVar(&f.sse, "sse", "", "server-side encryption: AES256 or aws:kms")
	fl.StringVar(&f.kmsID, "sse-kms-key-id", "", "KMS key for --sse aws:kms")
	fl.StringVar(&f.contentType, "content-type", "", "Content-Type for every object (default: guessed from the extension)")
}

// filterFlag is --include or --exclude. Both append to one list, so that
// the order they were given in survives (the engine applies them in that
// order, the later match winning); each also keeps its own list for
// DataSync, whose filters are not ordered.
type filterFlag struct {
	rules   *[]transfer.Rule
	own     *[]string
	exclude bool
}

func (f filterFlag) String() string { return "" }
func (f filterFlag) Type() string   { return "glob" }
func (f filterFlag) Set(s string) error {
	*f.rules = append(*f.rules, transfer.Rule{Exclude: f.exclude, Pattern: s})
	*f.own = append(*f.own, s)
	return nil
}

// filterOrder is the rule --help states for --include and --exclude.
const filterOrder = "; repeatable; filters apply in the order given and the later match wins, everything is included by default: --exclude '*' --include '*.txt' selects only .txt files"

func registerFilters(fl *pflag.FlagSet, rules *[]transfer.Rule, include, exclude *[]string, inc, exc string) {
	fl.Var(filterFlag{rules: rules, own: include}, "include", inc+filterOrder)
	fl.Var(filterFlag{rules: rules, own: exclude, exclude: true}, "exclude", exc+filterOrder)
}

// newFilter compiles the rules. An --include that no --exclude comes
// before selects nothing that was not selected already, which a user of
// other tools may not expect: say so.
func newFilter(errw io.Writer, rules []transfer.Rule) (*transfer.Filter, error) {
	if len(rules) > 0 && !rules[0].Exclude {
		fmt.Fprintf(errw, "warning: --include %s comes before any --exclude and so changes nothing (everything is included by default; put --exclude '*' first to copy only what --include selects)\n", transfer.DisplayName(rules[0].Pattern))
	}
	return transfer.NewFilterRules(rules)
}
