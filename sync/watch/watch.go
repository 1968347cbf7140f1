// Package watch keeps a sync running: it reacts to file events (inotify
// through fsnotify) after a debounce, and also rescans on an interval,
// because NFS and many filers deliver no events and inotify watches run
// out on large trees. A file is uploaded only once it has settled: the
// pass it runs is given the debounce as its settle time, and a pass that
// left unsettled files pending schedules another one.
package watch

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Options shape a watch.
type Options struct {
	Root     string
	Interval time.Duration // full rescan at least this often
	Debounce time.Duration // quiet time after the last event before a pass
	// Pass runs one sync pass and reports whether files were left pending
	// (not yet settled, or failed) so that another pass should follow
	// soon.
	Pass func(ctx context.Context) (pending bool)
	// Warn reports a problem that does not stop the watch.
	Warn func(msg string)
	// Stop, when closed, ends the watch after the pass in progress.
	Stop <-chan struct{}
	// Retry is the delay before a follow-up pass when files are pending;
	// 0: Debounce.
	Retry time.Duration
	// MaxDelay bounds how long events can keep postponing a pass under
	// continuous churn; 0: 10 x Debounce, at most Interval.
	MaxDelay time.Duration
	// Clock is the time the watch runs on; nil: the real one.
	Clock Clock

	// events, when set, replaces the file events (tests feed their own).
	events <-chan fsnotify.Event
}

// Run watches until Stop is closed or ctx is done. It runs a pass at once.
func Run(ctx context.Context, o Options) error {
	if o.Interval <= 0 {
		o.Interval = time.Minute
	}
	if o.Debounce <= 0 {
		o.Debounce = 2 * time.Second
	}
	if o.Retry <= 0 {
		o.Retry = o.Debounce
	}
	if o.MaxDelay <= 0 {
		o.MaxDelay = min(10*o.Debounce, o.Interval)
	}
	if o.Warn == nil {
		o.Warn = func(string) {}
	}
	if o.Clock == nil {
		o.Clock = realClock{}
	}
	events := o.events
	var errs <-chan error
	var w *fsnotify.Watcher
	if events == nil {
		var err error
		if w, err = fsnotify.NewWatcher(); err != nil {
			o.Warn("file events unavailable (" + err.Error() + "); rescanning every " + o.Interval.String())
		} else {
			defer w.Close()
			if !addTree(w, o.Root, o.Warn) {
				o.Warn("not every folder could be watched; changes there are found by the rescan every " + o.Interval.String())
			}
			events, errs = w.Events, w.Errors
		}
	}

	timer := o.Clock.NewTimer(0) // the first pass, at once
	defer timer.Stop()
	rescan := o.Clock.NewTicker(o.Interval)
	defer rescan.Stop()
	armed := true
	arm := func(d time.Duration) {
		if armed {
			if !timer.Stop() {
				select {
				case <-timer.C():
				default:
				}
			}
		}
		timer.Reset(d)
		armed = true
	}
	var firstEvent time.Time // of the events the next pass will answer
	onEvent := func() {
		now := o.Clock.Now()
		if firstEvent.IsZero() {
			firstEvent = now
		}
		d := o.Debounce
		if late := firstEvent.Add(o.MaxDelay).Sub(now); late < d {
			d = max(late, 0)
		}
		arm(d)
	}
	pass := func() {
		armed = false
		firstEvent = time.Time{}
		if o.Pass(ctx) {
			arm(o.Retry)
		}
	}
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-o.Stop:
			return nil
		case ev, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			if ev.Op&fsnotify.Create != 0 && w != nil {
				// A new folder: watch it, and everything already in it
				// (it may have been moved in whole).
				if fi, err := lstatDir(ev.Name); err == nil && fi {
					addTree(w, ev.Name, o.Warn)
				}
			}
			onEvent()
		case err, ok := <-errs:
			if !ok {
				errs = nil
				continue
			}
			if errors.Is(err, fsnotify.ErrEventOverflow) {
				onEvent() // events were lost: a pass finds what they said
				continue
			}
			o.Warn("file events: " + err.Error())
		case <-timer.C():
			pass()
		case <-rescan.C():
			pass()
		}
		select {
		case <-o.Stop:
			return nil
		default:
		}
	}
}

// addTree watches root and every folder below it; it reports whether all
// could be watched (inotify's per-user limit runs out on large trees).
func addTree(w *fsnotify.Watcher, root string, warn func(string)) bool {
	ok := true
	warned := false
	_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil // the pass reports unreadable folders
		}
		if !d.IsDir() {
			return nil
		}
		if err := w.Add(p); err != nil {
			ok = false
			if !warned {
				warn("watching " + p + ": " + err.Error())
				warned = true
			}
			return filepath.SkipAll
		}
		return nil
	})
	return ok
}

func lstatDir(p string) (bool, error) {
	fi, err := os.Lstat(p)
	if err != nil {
		return false, err
	}
	return fi.IsDir(), nil
}
