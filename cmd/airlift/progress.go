package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/airlift-io/airlift/internal/units"
	"github.com/airlift-io/airlift/transfer"
)

// progressOpts say how a command shows progress.
type progressOpts struct {
	quiet    bool
	interval time.Duration // log-line interval when stderr is not a terminal
}

func (p *progressOpts) register(f interface {
	BoolVarP(*bool, string, string, bool, string)
	DurationVar(*time.Duration, string, time.Duration, string)
}) {
	f.BoolVarP(&p.quiet, "quiet", "q", false, "no progress output; only errors and the summary's failures")
	f.DurationVar(&p.interval, "progress-interval", 10*time.Second, "how often to log progress when stderr is not a terminal")
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// startProgress renders st until the returned stop is called: a bar on a
// terminal, periodic log lines otherwise (cron, CI), nothing when quiet.
func startProgress(w io.Writer, st *transfer.Stats, o progressOpts, verb string) (stop func()) {
	if o.quiet {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	if isTerminal(w) {
		bar := newBar(w, progressbar.OptionShowCount(), progressbar.OptionSetPredictTime(true))
		go func() {
			defer wg.Done()
			t := time.NewTicker(200 * time.Millisecond)
			defer t.Stop()
			for {
				select {
				case <-done:
					_ = bar.Finish()
					return
				case <-t.C:
					if st.WalkDone.Load() {
						bar.ChangeMax64(st.BytesFound.Load())
					}
					bar.Describe(fmt.Sprintf("%s %d/%d files", verb, st.FilesDone.Load()+st.FilesSkipped.Load(), st.FilesFound.Load()))
					_ = bar.Set64(st.BytesSent.Load() + st.BytesSkipped.Load())
				}
			}
		}()
	} else {
		interval := o.interval
		if interval <= 0 {
			interval = 10 * time.Second
		}
		start := time.Now()
		go func() {
			defer wg.Done()
			t := time.NewTicker(interval)
			defer t.Stop()
			for {
				select {
				case <-done:
					return
				case <-t.C:
					sent := st.BytesSent.Load()
					el := time.Since(start).Seconds()
					fmt.Fprintf(w, "%s %s %d/%d files, %s of %s, %.1f MB/s, %d failed, %d retries\n",
						time.Now().UTC().Format(time.RFC3339), verb,
						st.FilesDone.Load()+st.FilesSkipped.Load(), st.FilesFound.Load(),
						units.FormatBytes(sent+st.BytesSkipped.Load()), units.FormatBytes(st.BytesFound.Load()),
						float64(sent)/1e6/el, st.FilesFailed.Load(), retries(st))
				}
			}
		}()
	}
	return func() { close(done); wg.Wait() }
}

// newBar is every command's terminal bar: bytes, of a length unknown
// until set, redrawn at most every 200 ms and cleared for the summary.
func newBar(w io.Writer, extra ...progressbar.Option) *progressbar.ProgressBar {
	opts := []progressbar.Option{
		progressbar.OptionSetWriter(w),
		progressbar.OptionShowBytes(true),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(200 * time.Millisecond),
		progressbar.OptionClearOnFinish(),
		// The library's own spinner goroutine (for a bar of unknown
		// length) reads the bar's state without its lock; callers redraw
		// on their own updates instead.
		progressbar.OptionSetSpinnerChangeInterval(0),
	}
	return progressbar.NewOptions64(-1, append(opts, extra...)...)
}

func retries(st *transfer.Stats) int64 {
	if st.Retries == nil {
		return 0
	}
	return st.Retries.Load()
}
