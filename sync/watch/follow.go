package watch

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/airlift-io/airlift/internal/outcome"
	"github.com/airlift-io/airlift/sync/syncer"
	"github.com/airlift-io/airlift/transfer"
)

// FollowOptions shape a long-running sync.
type FollowOptions struct {
	Session  *syncer.Session
	Interval time.Duration // full rescan at least this often
	// Debounce is the quiet time after events, and how long a file must
	// be unchanged before it is uploaded.
	Debounce time.Duration
	// Stop, when closed, starts no new pass; the pass in flight finishes.
	Stop <-chan struct{}
	// MetricsAddr, when set, serves Prometheus metrics there.
	MetricsAddr string
	// OnPass is told of every pass's outcome, in order.
	OnPass func(*syncer.Report, error)
	Warn   func(msg string)
}

// Follow keeps Session's destination up to date until ctx is done or Stop
// closes: a pass on file events (after Debounce) and at least every
// Interval. A pass that finds the source root missing is retried at the
// next rescan.
func Follow(ctx context.Context, o FollowOptions) error {
	metrics := NewMetrics(nil)
	if o.MetricsAddr != "" {
		ln, err := net.Listen("tcp", o.MetricsAddr)
		if err != nil {
			return outcome.Usagef("metrics address: %v", err)
		}
		srv := &http.Server{Handler: metrics.Handler(), ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = srv.Serve(ln) }()
		defer srv.Close()
	}
	err := Run(ctx, Options{
		Root: o.Session.Options.Source, Interval: o.Interval, Debounce: o.Debounce, Stop: o.Stop, Warn: o.Warn,
		Pass: func(ctx context.Context) bool {
			st := &transfer.Stats{}
			metrics.Start(st)
			rep, err := o.Session.Pass(ctx, st, o.Debounce)
			h, _ := syncer.LoadHistory(o.Session.HistoryPath())
			metrics.Finish(rep, h)
			if o.OnPass != nil {
				o.OnPass(rep, err)
			}
			if errors.Is(err, syncer.ErrSourceMissing) {
				return false // the rescan tries again
			}
			return rep != nil && rep.Pending > 0
		},
	})
	if err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil // stopped by a signal, after finishing what was in flight
}
