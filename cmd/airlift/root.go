package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/airlift-io/airlift/internal/bwlimit"
	"github.com/airlift-io/airlift/internal/s3client"
	"github.com/airlift-io/airlift/internal/units"
	"github.com/airlift-io/airlift/transfer"
)

// Exit codes, documented in README.md.
const (
	exitOK          = 0
	exitFailed      = 1 // some files failed, or verify found differences
	exitUsage       = 2 // usage or configuration error; nothing was written
	exitInterrupted = 130
)

// exitError carries an exit code up to run.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func usageErr(format string, a ...any) error {
	return &exitError{code: exitUsage, err: fmt.Errorf(format, a...)}
}

// app is what every command shares: where to write, and the connection
// flags.
type app struct {
	stdout, stderr io.Writer
	conn           connFlags
	cpuProfile     string
	stopProfile    func()
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

// client builds the S3 client; maxConns should cover the requests the
// command keeps in flight.
func (a *app) client(ctx context.Context, maxConns int) (*s3client.Client, error) {
	c := a.conn
	if c.retryMode != "standard" && c.retryMode != "adaptive" {
		return nil, usageErr("--retry-mode must be standard or adaptive, not %q", c.retryMode)
	}
	if c.maxAttempts < 1 {
		return nil, usageErr("--max-attempts must be at least 1")
	}
	sched, err := bwlimit.Parse(c.bwlimit)
	if err != nil {
		return nil, usageErr("%v", err)
	}
	target, err := s3client.ParseProfile(c.targetProfile)
	if err != nil {
		return nil, usageErr("%v", err)
	}
	cli, err := s3client.New(ctx, s3client.Options{
		Region: c.region, Profile: c.profile, EndpointURL: c.endpoint, CABundle: c.caBundle,
		Accelerate: c.accelerate, Target: target, RetryMode: c.retryMode, MaxAttempts: c.maxAttempts,
		IOTimeout: c.ioTimeout, MaxConns: maxConns, Limiter: bwlimit.New(sched, nil), SDKPut: c.sdkPut,
	})
	if err != nil {
		return nil, usageErr("%v", err)
	}
	if err := cli.CheckCredentials(ctx); err != nil {
		return nil, usageErr("%v", err)
	}
	return cli, nil
}

// regionFor finds the bucket's region when talking to AWS without
// --region, so a user need not know it.
func (a *app) regionFor(ctx context.Context, maxConns int, bucket string) (*s3client.Client, error) {
	cli, err := a.client(ctx, maxConns)
	if err != nil || a.conn.region != "" || a.conn.endpoint != "" || os.Getenv("AWS_REGION") != "" || os.Getenv("AWS_DEFAULT_REGION") != "" {
		return cli, err
	}
	if r, rerr := cli.BucketRegion(ctx, bucket); rerr == nil && r != cli.Region {
		a.conn.region = r
		return a.client(ctx, maxConns)
	}
	return cli, nil
}

func newRoot(a *app) *cobra.Command {
	root := &cobra.Command{
		Use:           "airlift",
		Short:         "Move AI/ML datasets to Amazon S3 fast, verifiably, and without losing a byte",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version(),
	}
	root.SetOut(a.stdout)
	root.SetErr(a.stderr)
	a.conn.register(root)
	root.PersistentFlags().StringVar(&a.cpuProfile, "cpuprofile", "", "write a CPU profile to this file (for developers)")
	_ = root.PersistentFlags().MarkHidden("cpuprofile")
	root.PersistentPreRunE = func(*cobra.Command, []string) error {
		if a.cpuProfile == "" {
			return nil
		}
		f, err := os.Create(a.cpuProfile)
		if err != nil {
			return usageErr("--cpuprofile: %v", err)
		}
		a.stopProfile = func() { pprof.StopCPUProfile(); f.Close() }
		return pprof.StartCPUProfile(f)
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageErr("%v", err) })
	for _, add := range commands {
		root.AddCommand(add(a))
	}
	return root
}

// version is the module version and VCS commit the binary was built
// from, as the Go toolchain recorded them.
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := bi.Main.Version
	for _, s := range bi.Settings {
		switch {
		case s.Key == "vcs.revision":
			v += " (commit " + s.Value
		case s.Key == "vcs.modified" && s.Value == "true":
			v += ", modified"
		}
	}
	if strings.Contains(v, "(commit") {
		v += ")"
	}
	return v
}

// commands registers each command's constructor; every cmd_*.go file adds
// its own in init, so adding a command touches one file.
var commands []func(*app) *cobra.Command

func run(args []string, stdout, stderr io.Writer) int {
	a := &app{stdout: stdout, stderr: stderr}
	root := newRoot(a)
	root.SetArgs(args)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		// A second signal while the first one is being handled exits at
		// once; the journal (when there is one) is already consistent.
		<-ctx.Done()
		stop()
	}()
	err := root.ExecuteContext(ctx)
	if a.stopProfile != nil {
		a.stopProfile()
	}
	return exitCode(err, stderr, verbose(root, args))
}

// verbose reports whether the command that ran was given -v.
func verbose(root *cobra.Command, args []string) bool {
	cmd, _, err := root.Find(args)
	if err != nil {
		return false
	}
	f := cmd.Flags().Lookup("verbose")
	return f != nil && f.Value.String() == "true"
}

func exitCode(err error, stderr io.Writer, verbose bool) int {
	if err == nil {
		return exitOK
	}
	var ee *exitError
	code := exitFailed
	if errors.As(err, &ee) {
		code = ee.code
	} else if strings.HasPrefix(err.Error(), "unknown command") || strings.HasPrefix(err.Error(), "accepts ") || strings.Contains(err.Error(), "arg(s)") {
		code = exitUsage
	} else if transfer.IsFatal(err) {
		code = exitUsage
	}
	if code != exitOK && err.Error() != "" {
		fmt.Fprintf(stderr, "airlift: %s\n", oneLine(transfer.UserMessage(err, verbose)))
	}
	return code
}

// oneLine keeps an error to one line: SDK errors can carry newlines.
func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\r", " ")
	return strings.ReplaceAll(s, "\n", " ")
}

// sizeFlag parses a byte size given on the command line.
func sizeFlag(name, v string) (int64, error) {
	if v == "" {
		return 0, nil
	}
	n, err := units.ParseBytes(v)
	if err != nil {
		return 0, usageErr("--%s: %v", name, err)
	}
	return n, nil
}
