package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/airlift-io/airlift/internal/bwlimit"
	"github.com/airlift-io/airlift/internal/outcome"
	"github.com/airlift-io/airlift/internal/s3client"
	"github.com/airlift-io/airlift/internal/state"
	"github.com/airlift-io/airlift/internal/ui"
	"github.com/airlift-io/airlift/internal/units"
	"github.com/airlift-io/airlift/transfer"
)

// app is what every command shares: where to write, and the connection
// flags.
type app struct {
	stdout, stderr io.Writer
	conn           connFlags
	cpuProfile     string
	stopProfile    func()
	started        bool // a command's RunE was reached
}

// connFlags are the AWS conventions every command that talks to S3 takes.
type connFlags struct {
	region, profile, endpoint, caBundle string
	accelerate                          bool
	targetProfile                       string
	retryMode                           string
	maxAttempts                         int
	ioTimeout                           time.Duration
	bwlimit                             string
	sdkPut                              bool
}

func (c *connFlags) register(cmd *cobra.Command) {
	f := cmd.PersistentFlags()
	f.StringVar(&c.region, "region", "", "AWS region (default: from the AWS config, else the bucket's region)")
	f.StringVar(&c.profile, "profile", "", "shared config profile for credentials")
	f.StringVar(&c.endpoint, "endpoint-url", "", "S3-compatible endpoint, e.g. http://127.0.0.1:7070 (path-style addressing)")
	f.StringVar(&c.caBundle, "ca-bundle", "", "PEM file of CA certificates to trust for HTTPS")
	f.BoolVar(&c.accelerate, "accelerate", false, "use S3 Transfer Acceleration")
	f.StringVar(&c.targetProfile, "target-profile", "aws", "target compatibility profile: aws or snowball-edge")
	f.StringVar(&c.retryMode, "retry-mode", "standard", "retry mode: standard or adaptive (client-side rate limiting when throttled)")
	f.IntVar(&c.maxAttempts, "max-attempts", 10, "attempts per request, including the first")
	f.DurationVar(&c.ioTimeout, "io-timeout", 60*time.Second, "close and retry a connection that makes no progress for this long")
	f.StringVar(&c.bwlimit, "bwlimit", "", `bandwidth limit, e.g. 100MiB/s, or a timetable "08:00,50MiB/s 19:00,off"`)
	// Hidden: sends small objects through the SDK's middleware stack, to
	// measure the lean path against it side by side.
	f.BoolVar(&c.sdkPut, "sdk-put", false, "send every PutObject through the SDK's middleware stack")
	_ = f.MarkHidden("sdk-put")
}

// options turns the flags into the client's options.
func (c *connFlags) options() (s3client.Options, error) {
	if c.retryMode != "standard" && c.retryMode != "adaptive" {
		return s3client.Options{}, outcome.Usagef("--retry-mode must be standard or adaptive, not %q", c.retryMode)
	}
	if c.maxAttempts < 1 {
		return s3client.Options{}, outcome.Usagef("--max-attempts must be at least 1")
	}
	sched, err := bwlimit.Parse(c.bwlimit)
	if err != nil {
		return s3client.Options{}, outcome.Usagef("%v", err)
	}
	target, err := s3client.ParseProfile(c.targetProfile)
	if err != nil {
		return s3client.Options{}, outcome.Usagef("%v", err)
	}
	return s3client.Options{
		Region: c.region, Profile: c.profile, EndpointURL: c.endpoint, CABundle: c.caBundle,
		Accelerate: c.accelerate, Target: target, RetryMode: c.retryMode, MaxAttempts: c.maxAttempts,
		IOTimeout: c.ioTimeout, Limiter: bwlimit.New(sched, nil), SDKPut: c.sdkPut,
	}, nil
}

// connect runs the preflight for the bucket at url with maxConns requests
// in flight.
func (a *app) connect(ctx context.Context, loc transfer.Location, maxConns int) (*transfer.Target, error) {
	o, err := a.conn.options()
	if err != nil {
		return nil, err
	}
	return transfer.Connect(ctx, o, loc, maxConns)
}

// sourceFlags say how to reach an s3:// SRC; unset, as the destination.
type sourceFlags struct{ c transfer.SourceConn }

func (s *sourceFlags) register(fl *pflag.FlagSet) {
	fl.StringVar(&s.c.EndpointURL, "source-endpoint-url", "", "endpoint of an s3:// SRC (default: --endpoint-url)")
	fl.StringVar(&s.c.Profile, "source-profile", "", "shared config profile for the credentials of an s3:// SRC (default: --profile)")
	fl.StringVar(&s.c.Region, "source-region", "", "region of an s3:// SRC (default: --region)")
	fl.StringVar(&s.c.CABundle, "source-ca-bundle", "", "PEM file of CA certificates to trust for an s3:// SRC (default: --ca-bundle)")
}

// connectSource runs the preflight of an s3:// SRC; a local SRC refuses
// the source flags.
func (a *app) connectSource(cmd *cobra.Command, s sourceFlags, src string, filter *transfer.Filter, maxConns int) (*transfer.Bucket, error) {
	if !transfer.IsS3URL(src) {
		if fl := changedFrom(cmd.Flags(), (&sourceFlags{}).register); fl != "" {
			return nil, outcome.Usagef("--%s applies to an s3:// SRC only", fl)
		}
		return nil, nil
	}
	loc, err := location("SRC: ", src)
	if err != nil {
		return nil, err
	}
	o, err := a.conn.options()
	if err != nil {
		return nil, err
	}
	return transfer.ConnectSource(cmd.Context(), o, s.c, loc, maxConns, filter)
}

// location parses an s3:// argument; what names it (SRC, DST) prefixes
// the error.
func location(what, url string) (transfer.Location, error) {
	loc, err := transfer.ParseLocation(url)
	if err != nil {
		return loc, outcome.Usagef("%s%v", what, err)
	}
	return loc, nil
}

// selectFlags choose which files (and objects) a run takes.
type selectFlags struct {
	rules            []transfer.Rule // --include and --exclude in the order given
	include, exclude []string        // each on its own, for DataSync's unordered filters
	sub              subsetFlags
}

func (s *selectFlags) register(fl *pflag.FlagSet, include, exclude string) {
	registerFilters(fl, &s.rules, &s.include, &s.exclude, include, exclude)
	s.sub.register(fl, "sample")
}

// filterFlag is --include or --exclude. Both append to one list, so that
// the order they were given in survives (the engine applies them in that
// order, the later match winning); each also keeps its own list.
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

func (s *selectFlags) filter(errw io.Writer) (*transfer.Filter, error) {
	f, err := newFilter(errw, s.rules)
	if err != nil {
		return nil, err
	}
	return f, s.sub.apply(f)
}

// newFilter compiles the rules. An --include that no --exclude comes
// before selects nothing that was not selected already, which a user of
// other tools may not expect: say so.
func newFilter(errw io.Writer, rules []transfer.Rule) (*transfer.Filter, error) {
	if len(rules) > 0 && !rules[0].Exclude {
		fmt.Fprintf(errw, "warning: --include %s comes before any --exclude and so changes nothing (everything is included by default; put --exclude '*' first to copy only what --include selects)\n", transfer.DisplayName(rules[0].Pattern))
	}
	f, err := transfer.NewFilterRules(rules)
	return f, outcome.As(outcome.Usage, err)
}

// engineFlags size a transfer: part size, memory budget and how much is in
// flight. copy, sync, verify and download take the same four flags.
type engineFlags struct {
	partSize, maxMemory   string
	concurrency, partConc int
	adaptive              bool // --concurrency 0 means adaptive
}

// engineHelp words the flags for one command.
type engineHelp struct {
	concurrency           int
	partSize, conc, parts string
}

var uploadHelp = engineHelp{
	concurrency: 0, // adaptive
	partSize:    "multipart part size (default 8MiB, 16MiB for files of 256MiB or more, raised to fit 10,000 parts)",
	conc:        "files in flight (default: adaptive, from 64 up to 512 as the round trip asks)",
	parts:       "multipart parts in flight across all files (default 8; a download: ranged GETs, default 16)",
}

func (e *engineFlags) register(fl *pflag.FlagSet, h engineHelp) {
	fl.StringVar(&e.partSize, "part-size", "", h.partSize)
	fl.StringVar(&e.maxMemory, "max-memory", "160MiB", "memory budget for all buffers")
	e.adaptive = h.concurrency == 0
	fl.IntVar(&e.concurrency, "concurrency", h.concurrency, h.conc)
	fl.IntVar(&e.partConc, "part-concurrency", 0, h.parts) // 0: the engine's default
}

// sizing checks the flags and tells the runtime about the memory budget.
func (e *engineFlags) sizing() (transfer.Sizing, error) {
	var s transfer.Sizing
	var err error
	if s.PartSize, err = sizeFlag("part-size", e.partSize); err != nil {
		return s, err
	}
	if s.MaxMemory, err = sizeFlag("max-memory", e.maxMemory); err != nil {
		return s, err
	}
	if e.concurrency < 0 || (e.concurrency == 0 && !e.adaptive) {
		return s, outcome.Usagef("--concurrency must be at least 1")
	}
	if e.partConc < 0 {
		return s, outcome.Usagef("--part-concurrency must be at least 1 (0: the default)")
	}
	s.Concurrency, s.PartConcurrency = e.concurrency, e.partConc
	applyMemoryLimit(s.MaxMemory)
	return s, nil
}

// conns is how many connections the run may use at once: a request per
// file in flight (at most what the adaptive limit can reach) and per part.
func (e *engineFlags) conns() int {
	if e.concurrency == 0 {
		return transfer.AutoConcurrencyMax + e.parts(transfer.DefaultDownloadParts)
	}
	return e.concurrency + e.parts(transfer.DefaultDownloadParts)
}

// parts is --part-concurrency, or def where it was left to the engine
// (0). Connections take the most any engine uses by default, a
// download's.
func (e *engineFlags) parts(def int) int {
	if e.partConc == 0 {
		return def
	}
	return e.partConc
}

// applyMemoryLimit tells the Go runtime about the run's memory budget.
// The engine never holds more than budget bytes of buffers, but with the
// default GOGC the heap may grow to twice what is live before a collection,
// so buffers dropped by the pool (when a run moves between size classes)
// would linger and push RSS well past the budget. A soft limit a little
// above the budget makes the collector reclaim them in time. (A higher
// GOGC under that cap was tried for small-file runs: more RSS, no less
// CPU.) A GOMEMLIMIT set by the user wins.
func applyMemoryLimit(budget int64) {
	if budget <= 0 || os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	debug.SetMemoryLimit(budget + 48<<20)
}

// sizeFlag parses a byte size given on the command line.
func sizeFlag(name, v string) (int64, error) {
	if v == "" {
		return 0, nil
	}
	n, err := units.ParseBytes(v)
	if err != nil {
		return 0, outcome.Usagef("--%s: %v", name, err)
	}
	return n, nil
}

// stateFlags choose where the state store lives and whether to use it.
type stateFlags struct {
	stateDir  string
	noJournal bool
}

const (
	stateDirDefault = " (default $XDG_STATE_HOME/airlift or ~/.local/state/airlift)"
	journalHelp     = "directory of the transfer journal" + stateDirDefault
	storeHelp       = "directory of the state store" + stateDirDefault
)

func (j *stateFlags) register(fl *pflag.FlagSet, help string, journal bool) {
	fl.StringVar(&j.stateDir, "state-dir", "", help)
	if journal {
		fl.BoolVar(&j.noJournal, "no-journal", false, "keep no journal: an interrupted run starts over")
	}
}

// open opens the state store of loc on the endpoint in use (nil with
// --no-journal). A store that is locked, unreadable or newer stops the
// command: nothing was written, and nothing should be until the user
// decides.
func (a *app) openStore(j stateFlags, loc transfer.Location) (*state.Store, error) {
	if j.noJournal {
		return nil, nil
	}
	dir := j.stateDir
	if dir == "" {
		d, err := state.DefaultDir()
		if err != nil {
			return nil, outcome.As(outcome.Usage, err)
		}
		dir = d
	}
	s, err := state.Open(dir, state.Dest{Endpoint: strings.TrimRight(a.conn.endpoint, "/"), Bucket: loc.Bucket, Prefix: loc.Prefix}, state.Options{})
	return s, outcome.As(outcome.Usage, err)
}

// journal opens the destination's store as o's journal (none with
// --no-journal); the returned func closes it.
func (a *app) journal(j stateFlags, loc transfer.Location, o *transfer.UploadOptions) (func(), error) {
	store, err := a.openStore(j, loc)
	if err != nil || store == nil {
		return func() {}, err
	}
	o.Journal = store
	return func() { store.Close() }, nil
}

// progressFlags say how a command shows progress.
type progressFlags struct {
	quiet    bool
	interval time.Duration // log-line interval when stderr is not a terminal
}

func (p *progressFlags) register(f *pflag.FlagSet) {
	f.BoolVarP(&p.quiet, "quiet", "q", false, "no progress output; only errors and the summary's failures")
	f.DurationVar(&p.interval, "progress-interval", 10*time.Second, "how often to log progress when stderr is not a terminal")
}

// start shows progress on stderr from poll (nil: snapshots are pushed).
func (p progressFlags) start(a *app, poll func() ui.Snapshot) *ui.Progress {
	return ui.StartProgress(a.stderr, ui.ProgressOptions{Quiet: p.quiet, Interval: p.interval}, poll)
}

// humanOut is where lines for people go: stdout, or stderr when stdout
// carries JSON (one document, nothing else).
func (a *app) humanOut(jsonOut bool) io.Writer {
	if jsonOut {
		return a.stderr
	}
	return a.stdout
}

// printJSON writes one JSON document to stdout.
func (a *app) printJSON(v any) error { return ui.JSON(a.stdout, v) }
