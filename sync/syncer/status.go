package syncer

import (
	"context"
	"errors"
	"time"

	"github.com/airlift-io/airlift/transfer"
)

// ErrNoSource is Status without a source when no sync of the destination
// is recorded.
var ErrNoSource = errors.New("no sync of this destination is recorded")

// Status is how far a synced prefix is behind its source.
type Status struct {
	Dest           string     `json:"destination"`
	Source         string     `json:"source"`
	AsOf           time.Time  `json:"as_of"`
	Live           bool       `json:"live"` // computed now, not taken from a running sync's last pass
	RunningPID     int        `json:"running_pid,omitempty"`
	PendingFiles   int64      `json:"pending_files"`
	PendingBytes   int64      `json:"pending_bytes"`
	PendingDeletes int64      `json:"pending_deletes"`
	OldestChange   *time.Time `json:"oldest_unsynced_change,omitempty"`
	OldestAgeSec   float64    `json:"oldest_unsynced_age_seconds"`
	LastSuccess    *time.Time `json:"last_success,omitempty"`
	LastRun        *time.Time `json:"last_run,omitempty"`
	LastRunOK      bool       `json:"last_run_ok"`
	LagSeconds     float64    `json:"lag_seconds"`
	// FirstPass: no pass has completed yet (a first sync is running);
	// the pending figures are then counted from the source.
	FirstPass bool `json:"first_pass,omitempty"`
}

// StatusOptions say where to look.
type StatusOptions struct {
	Dest   transfer.Location
	Source string // "" : the source the last sync used
	// Store is the destination's state, or nil when a running sync holds
	// it; then HistoryPath and RunningPID describe that sync.
	Store       Store
	HistoryPath string
	RunningPID  int
	Now         time.Time
}

// ComputeStatus computes the status from local state alone (no request
// to S3): afresh from the store when it is free, else from the running
// sync's last pass.
func ComputeStatus(ctx context.Context, o StatusOptions) (*Status, error) {
	st := &Status{Dest: o.Dest.String()}
	h, err := LoadHistory(o.HistoryPath)
	if err != nil {
		return nil, err
	}
	source := o.Source
	if source == "" {
		source = h.SuccessSource
	}
	if source == "" && h.LastSuccess.IsZero() {
		source = h.Source // no pass has succeeded yet: the one running or last tried
	}
	if o.Store != nil {
		if source == "" {
			return nil, ErrNoSource
		}
		rep, err := New(nil, o.Store, Options{Source: source, Dest: o.Dest, MaxDelete: -1}).Pending(ctx)
		if err != nil {
			return nil, err
		}
		st.Live, st.AsOf = true, o.Now
		st.PendingFiles, st.PendingBytes, st.PendingDeletes = rep.Pending, rep.PendingBytes, rep.DeletePending
		st.OldestChange = timePtr(rep.OldestPending)
	} else if h.Updated.IsZero() {
		// A first sync holds the store and no pass has finished: all of
		// the source is pending, as far as anyone can tell.
		st.RunningPID, st.AsOf, st.FirstPass, st.Live = o.RunningPID, o.Now, true, true
		if source != "" {
			if st.PendingFiles, st.PendingBytes, err = countSource(ctx, source); err != nil {
				return nil, err
			}
		}
	} else {
		st.RunningPID, st.AsOf = o.RunningPID, h.Updated
		st.PendingFiles, st.PendingBytes = h.PendingFiles, h.PendingBytes
		st.OldestChange = timePtr(h.OldestPending)
	}
	st.Source = source
	if st.OldestChange != nil {
		st.OldestAgeSec = o.Now.Sub(*st.OldestChange).Seconds()
	}
	st.LastSuccess, st.LastRun, st.LastRunOK = timePtr(h.LastSuccess), timePtr(h.LastRun), h.LastRunOK
	if lag, ok := h.Lag(o.Now); ok {
		st.LagSeconds = lag.Seconds()
	}
	return st, nil
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// countSource counts the files and bytes under source by walking it.
func countSource(ctx context.Context, source string) (files, bytes int64, err error) {
	err = transfer.Walk(ctx, source, transfer.WalkOptions{}, func(e transfer.Entry) error {
		if e.Err == nil && e.Skip == "" {
			files++
			bytes += e.Size
		}
		return nil
	})
	return files, bytes, err
}
