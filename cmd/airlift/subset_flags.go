package main

import (
	"errors"

	"github.com/spf13/pflag"

	"github.com/airlift-io/airlift/bench/plan"

	"github.com/airlift-io/airlift/internal/outcome"
	"github.com/airlift-io/airlift/transfer"
)

// subsetFlags take a stable subset of the source: --sample (a fraction
// or a count of files), --sample-by and --slice. They set the subset on
// the run's Filter, the one selection point of every walk and listing.
type subsetFlags struct {
	sample, by, slice string
	sampleName        string // "sample", or "subset" on plan (whose --sample is the compressibility sample)
}

func (s *subsetFlags) register(fl *pflag.FlagSet, sampleName string) {
	s.sampleName = sampleName
	fl.StringVar(&s.sample, sampleName, "", "take a stable sample of the files by a hash of their path: a percentage (5%) or a count of files (10000; costs one more pass over the names); a larger sample holds a smaller one")
	fl.StringVar(&s.by, sampleName+"-by", "file", "what the sample and the slice hash: file (its path) or dir (its folder: folders stay whole)")
	fl.StringVar(&s.slice, "slice", "", "take slice K of N (0 <= K < N) by the same hash: N runs with 0/N .. N-1/N partition the files exactly, one per host")
}

// apply sets the subset on f (which holds the rules of the run). Engine
// errors name Sample and SampleBy: on plan those are --subset flags.
func (s *subsetFlags) apply(f *transfer.Filter) error {
	sub, count, err := transfer.ParseSubset(s.sample, s.by, s.slice)
	var oe *outcome.OptionError
	if errors.As(err, &oe) {
		return outcome.Usagef("--%s: %s", map[string]string{"Sample": s.sampleName, "SampleBy": s.sampleName + "-by", "Slice": "slice"}[oe.Option], oe.Problem)
	} else if err != nil {
		return err
	}
	f.SetSubset(sub, count)
	return nil
}

// notOnDataSync refuses a subset on the DataSync route: DataSync picks
// files by its own patterns and cannot hash their paths.
func (s *subsetFlags) notOnDataSync(dataSync bool) error {
	if dataSync && (s.sample != "" || s.slice != "") {
		return outcome.Usagef("--%s and --slice choose files by a hash DataSync cannot apply; use --include/--exclude with --via datasync", s.sampleName)
	}
	return nil
}

// planSubsetFlags are plan's: the subset to estimate (--subset, since
// plan's --sample is the compressibility sample) and --hosts.
type planSubsetFlags struct {
	subsetFlags
	hosts int
}

func (p *planSubsetFlags) register(fl *pflag.FlagSet) {
	p.subsetFlags.register(fl, "subset")
	fl.IntVar(&p.hosts, "hosts", 1, "hosts running the network route side by side (copy --slice K/N): divides its time, up to --bandwidth, the site's total")
}

// options sets the hosts on o and returns the filter of the subset (nil:
// the whole tree). uplink is the site's total (--bandwidth, used), given
// says whether --bandwidth was given beside a bench profile.
func (p *planSubsetFlags) options(o *plan.Options, uplink float64, given bool) (*transfer.Filter, error) {
	if p.hosts < 1 {
		return nil, outcome.Usagef("--hosts must be at least 1")
	}
	o.Hosts = p.hosts
	if given {
		o.UplinkBytesPerSec = uplink
	}
	if p.sample == "" && p.slice == "" && p.by == "file" {
		return nil, nil
	}
	f, _ := transfer.NewFilterRules(nil)
	return f, p.apply(f)
}
