// Command airlift moves datasets from local disk to S3 and back, fast and
// verifiably. Each command is one file here that turns flags into an
// options struct, calls one engine entry point, and renders what comes
// back (internal/ui); how a run ended is decided by the engine and turned
// into an exit code in exitCode alone.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/airlift-io/airlift/internal/outcome"
	"github.com/airlift-io/airlift/internal/ui"
	"github.com/airlift-io/airlift/transfer"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// commands are airlift's commands, in the order --help lists them.
var commands = []func(*app) *cobra.Command{
	newCopyCmd, newSyncCmd, newVerifyCmd, newPlanCmd, newBenchCmd, newCleanupCmd, newStatusCmd,
	newCatCmd, newCompactCmd, newDataSyncCmd, newSnowballCmd, newIAMPolicyCmd,
}

func newRoot(a *app) *cobra.Command {
	root := &cobra.Command{
		Use:           "airlift",
		Short:         "Move AI/ML datasets to Amazon S3 fast, verifiably, and without losing a byte",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       ui.Version(),
	}
	root.SetOut(a.stdout)
	root.SetErr(a.stderr)
	a.conn.register(root)
	root.PersistentFlags().StringVar(&a.cpuProfile, "cpuprofile", "", "write a CPU profile to this file (for developers)")
	_ = root.PersistentFlags().MarkHidden("cpuprofile")
	root.PersistentPreRunE = func(*cobra.Command, []string) error {
		a.started = true // arguments and flags parsed: errors from here on are the command's
		if a.cpuProfile == "" {
			return nil
		}
		f, err := os.Create(a.cpuProfile)
		if err != nil {
			return outcome.Usagef("--cpuprofile: %v", err)
		}
		a.stopProfile = func() { pprof.StopCPUProfile(); f.Close() }
		return pprof.StartCPUProfile(f)
	}
	for _, add := range commands {
		root.AddCommand(add(a))
	}
	return root
}

func run(args []string, stdout, stderr io.Writer) int {
	out := &countingWriter{w: stdout}
	a := &app{stdout: out, stderr: stderr}
	root := newRoot(a)
	root.SetArgs(args)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	finished := make(chan struct{})
	defer close(finished) // before stop: a normal end is not a signal
	go func() {
		select {
		case <-finished:
			return
		case <-ctx.Done():
		}
		select {
		case <-finished:
			// The run ended (and then stop cancelled ctx): both were ready
			// when this goroutine woke. Not a signal.
			return
		default:
		}
		// A second signal while the first one is being handled exits at
		// once, with an exit code and a message of its own (the default
		// action would kill silently with 143). This is the one exit
		// outside exitCode: the run's own goroutines may be blocked, and
		// the journal is transactional, so unfinished uploads are still
		// there for the next run.
		second := make(chan os.Signal, 1)
		signal.Notify(second, os.Interrupt, syscall.SIGTERM)
		defer signal.Stop(second)
		stop()
		fmt.Fprintln(stderr, "airlift: stopping (signal again to exit at once)")
		select {
		case <-second:
			fmt.Fprintln(stderr, "airlift: second signal: exiting at once; run the same command again to continue")
			os.Exit(exitCodes[outcome.Interrupted])
		case <-finished:
		}
	}()
	err := root.ExecuteContext(ctx)
	if a.stopProfile != nil {
		a.stopProfile()
	}
	if err != nil && !a.started {
		err = outcome.As(outcome.Usage, err) // cobra refused the arguments or flags
	}
	if err != nil && out.written() == 0 && flagSet(root, args, "json") {
		// Scripts that asked for JSON get one document in every outcome.
		_ = ui.JSON(out, ui.ErrorJSON{Error: ui.OneLine(transfer.UserMessage(err, false)),
			Outcome: outcome.Of(err).String(), ExitCode: exitCodes[outcome.Of(err)]})
	}
	return exitCode(err, stderr, flagSet(root, args, "verbose"))
}

// countingWriter counts what was written through it. Commands write to
// stdout from the engine's goroutines (dry-run lines), so it locks: each
// write also stays whole.
type countingWriter struct {
	mu sync.Mutex
	w  io.Writer
	n  int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

func (c *countingWriter) written() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

// flagSet reports whether the command that ran was given the boolean
// flag name (-v shows request ids; --json asks for JSON in every outcome).
func flagSet(root *cobra.Command, args []string, name string) bool {
	cmd, _, err := root.Find(args)
	if err != nil {
		return false
	}
	f := cmd.Flags().Lookup(name)
	// When the flags could not be parsed, the value was never set: the
	// arguments still say what was asked for.
	return f != nil && (f.Value.String() == "true" || slices.Contains(args, "--"+name))
}

// Exit codes, documented in README.md.
var exitCodes = map[outcome.Class]int{
	outcome.Done:        0,
	outcome.Failed:      1, // some files failed, or verify found differences
	outcome.Usage:       2, // usage or configuration error; nothing was written
	outcome.Interrupted: 130,
}

// exitCode is the one place an outcome becomes an exit code; the error,
// with the flag an engine option came from, is printed on one line.
func exitCode(err error, stderr io.Writer, verbose bool) int {
	code := exitCodes[outcome.Of(err)]
	if err != nil && err.Error() != "" {
		msg := transfer.UserMessage(err, verbose)
		var oe *outcome.OptionError
		if errors.As(err, &oe) {
			msg = oe.Render(flagOf)
			if f := flagOf(oe.Option); f != oe.Option && !strings.Contains(msg, f) {
				msg = f + ": " + msg
			}
		}
		fmt.Fprintf(stderr, "airlift: %s\n", ui.OneLine(msg))
	}
	return code
}

// flagOf names the flag behind an engine option.
func flagOf(option string) string {
	if f, ok := optionFlags[option]; ok {
		return "--" + f
	}
	return option
}

// optionFlags maps engine options (the field names of the engines'
// options) to the flags they come from.
var optionFlags = map[string]string{
	"PartSize": "part-size", "MaxMemory": "max-memory", "SSE": "sse", "SSEKMSKeyID": "sse-kms-key-id",
	"StorageClass": "storage-class", "Concurrency": "concurrency", "PartSizes": "part-sizes", "Source": "source",
	"BytesPerSecond": "bwlimit", "VerifyMode": "verify-mode", "BucketAccessRoleArn": "role-arn", "AgentArns": "agent-arn",
	"ReportTo": "report-to", "MaxFileSize": "batch-file-max", "ArchiveSize": "batch-size", "Adopt": "adopt",
	"RoleARN": "role-arn", "MaxDelete": "max-delete", "AccelerationSpeedup": "acceleration-speedup",
	"DataSyncAgents": "datasync-agents", "ShardSize": "shard-size", "ShardCount": "shard-count", "Pack": "pack",
	"CompactBelow": "compact-below",
}
