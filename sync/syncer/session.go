package syncer

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/airlift-io/airlift/transfer"
)

// Journaled is a Store kept in a file, beside which the history lives.
type Journaled interface {
	Store
	Path() string
}

// Session runs the passes of one sync of Source into Dest: a one-shot run
// is one pass, --watch many. Each pass is recorded in the history beside
// the store (what `airlift status` reads while a watcher holds the store).
type Session struct {
	API   transfer.S3API // nil for a dry run that lists nothing
	Store Journaled
	// Options is every pass's template; Stats, Settle and OnEvent are set
	// per pass.
	Options  Options
	Watching bool
	// Retries is the client's retry counter (nil without a client): the
	// engine reads it to notice a retried CreateMultipartUpload (whose
	// lost response may have left an upload nobody owns), progress and
	// the report show it.
	Retries *atomic.Int64
}

// HistoryPath is where this session keeps its history.
func (s *Session) HistoryPath() string { return HistoryPath(s.Store.Path()) }

// Pass runs one pass with st as its live counters; settle passes over
// files changed more recently than that.
func (s *Session) Pass(ctx context.Context, st *transfer.Stats, settle time.Duration) (*Report, error) {
	o := s.Options
	o.Stats, o.Settle = st, settle
	if st != nil && st.Retries == nil {
		st.Retries = s.Retries
	}
	rep, err := New(s.API, s.Store, o).Run(ctx)
	if rep != nil && s.Retries != nil {
		rep.Retries = s.Retries.Load()
	}
	if rep != nil && !o.DryRun {
		now := time.Now()
		h, herr := LoadHistory(s.HistoryPath())
		if herr != nil {
			h = History{}
		}
		h.Watching = s.Watching
		h.Record(rep, now)
		if lag, ok := h.Lag(now); ok {
			rep.LagSeconds = lag.Seconds()
		}
		if serr := h.Save(s.HistoryPath()); serr != nil {
			rep.Warnings = append(rep.Warnings, serr.Error())
		}
	}
	return rep, err
}

// GraceContext returns a context for a run that stops taking new work
// when sig is done (the caller passes sig's Done as Options.Stop) and
// cancels what is still in flight grace later.
func GraceContext(sig context.Context, grace time.Duration) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.WithoutCancel(sig))
	go func() {
		select {
		case <-sig.Done():
			t := time.NewTimer(grace)
			defer t.Stop()
			select {
			case <-t.C:
				cancel()
			case <-ctx.Done():
			}
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}
