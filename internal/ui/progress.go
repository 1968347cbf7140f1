// Package ui renders what the engines report, for people and for
// scripts: the one progress renderer (a bar on a terminal, timestamped log
// lines otherwise, nothing when quiet), the summaries, tables and JSON of
// each command. The engines never print; they fill counters and return
// reports, and the CLI hands both to this package.
package ui

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

// Snapshot is what a progress display shows at one moment.
type Snapshot struct {
	Label       string // before the bar, e.g. "copied 3/10 files"
	Done, Total int64  // Total < 0: not known yet
	Bytes       bool   // Done and Total count bytes (else units)
	// Log is the line a non-terminal display prints (without the
	// timestamp); "" prints nothing.
	Log string
	// Phase, when it changes, makes a non-terminal display print Log at
	// once instead of waiting for the interval.
	Phase string
}

// ProgressOptions say how to show progress.
type ProgressOptions struct {
	Quiet bool
	// Interval between log lines when w is not a terminal; 0: 10 s.
	Interval time.Duration
	// TerminalOnly shows nothing when w is not a terminal.
	TerminalOnly bool
}

// Progress shows snapshots until Stop. Snapshots come from poll (called
// every 200 ms), from Set, or both.
type Progress struct {
	w    io.Writer
	o    ProgressOptions
	poll func() Snapshot
	tty  bool

	mu      sync.Mutex
	cur     Snapshot
	bar     *progressbar.ProgressBar
	lastLog time.Time
	phase   string
	stopped bool

	done chan struct{}
	wg   sync.WaitGroup
}

// StartProgress starts showing progress on w; poll may be nil when the
// caller pushes snapshots with Set.
func StartProgress(w io.Writer, o ProgressOptions, poll func() Snapshot) *Progress {
	p := &Progress{w: w, o: o, poll: poll, tty: IsTerminal(w), done: make(chan struct{}), lastLog: time.Now()}
	if p.o.Interval <= 0 {
		p.o.Interval = 10 * time.Second
	}
	if o.Quiet || (!p.tty && o.TerminalOnly) {
		p.stopped = true
		return p
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-p.done:
				return
			case <-t.C:
				if p.poll != nil {
					p.Set(p.poll())
				} else {
					p.mu.Lock()
					p.draw(false)
					p.mu.Unlock()
				}
			}
		}
	}()
	return p
}

// Set shows s.
func (p *Progress) Set(s Snapshot) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped {
		return
	}
	p.cur = s
	p.draw(s.Phase != p.phase)
}

// draw renders p.cur; phaseChanged logs at once on a non-terminal.
func (p *Progress) draw(phaseChanged bool) {
	s := p.cur
	if p.tty {
		if p.bar == nil {
			p.bar = NewBar(p.w, s.Bytes)
		}
		if s.Total >= 0 {
			p.bar.ChangeMax64(s.Total)
		}
		p.bar.Describe(s.Label)
		_ = p.bar.Set64(s.Done)
		return
	}
	if s.Log == "" || !phaseChanged && time.Since(p.lastLog) < p.o.Interval {
		return
	}
	fmt.Fprintf(p.w, "%s %s\n", time.Now().UTC().Format(time.RFC3339), s.Log)
	p.lastLog, p.phase = time.Now(), s.Phase
}

// Stop ends the display and clears the bar for the summary.
func (p *Progress) Stop() {
	p.mu.Lock()
	if p.stopped {
		p.mu.Unlock()
		return
	}
	p.stopped = true
	p.mu.Unlock()
	close(p.done)
	p.wg.Wait()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar != nil {
		_ = p.bar.Finish()
	}
}

// NewBar is the one terminal bar: of a length unknown until set, redrawn
// at most every 200 ms and cleared for the summary.
func NewBar(w io.Writer, bytes bool) *progressbar.ProgressBar {
	return progressbar.NewOptions64(-1,
		progressbar.OptionSetWriter(w),
		progressbar.OptionShowBytes(bytes),
		progressbar.OptionShowCount(),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(200*time.Millisecond),
		progressbar.OptionClearOnFinish(),
		// The library's own spinner goroutine (for a bar of unknown
		// length) reads the bar's state without its lock; Progress
		// redraws on its own ticker instead.
		progressbar.OptionSetSpinnerChangeInterval(0),
	)
}

// IsTerminal says whether w is a terminal.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// TransferProgress polls a transfer's counters: files and bytes done of
// those found so far, rate, failures and retries.
func TransferProgress(st *transfer.Stats, verb string) func() Snapshot {
	start := time.Now()
	return func() Snapshot {
		sent := st.BytesSent.Load()
		files := st.FilesDone.Load() + st.FilesSkipped.Load()
		s := Snapshot{
			Label: fmt.Sprintf("%s %d/%d files", verb, files, st.FilesFound.Load()),
			Done:  sent + st.BytesSkipped.Load(), Total: -1, Bytes: true,
			Log: fmt.Sprintf("%s %d/%d files, %s of %s, %.1f MB/s, %d failed, %d retries",
				verb, files, st.FilesFound.Load(),
				units.FormatBytes(sent+st.BytesSkipped.Load()), units.FormatBytes(st.BytesFound.Load()),
				float64(sent)/1e6/time.Since(start).Seconds(), st.FilesFailed.Load(), Retries(st)),
		}
		if st.WalkDone.Load() {
			s.Total = st.BytesFound.Load()
		}
		return s
	}
}

// Retries is the run's retry count so far.
func Retries(st *transfer.Stats) int64 {
	if st.Retries == nil {
		return 0
	}
	return st.Retries.Load()
}
