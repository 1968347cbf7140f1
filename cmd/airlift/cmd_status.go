package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/airlift-io/airlift/internal/state"
	"github.com/airlift-io/airlift/internal/units"
	"github.com/airlift-io/airlift/sync/syncer"
	"github.com/airlift-io/airlift/transfer"
)

func init() { commands = append(commands, newStatusCmd) }

func newStatusCmd(a *app) *cobra.Command {
	var source, stateDir string
	var jsonOut bool
	cmd := &cobra.Command{
		Use:   "status s3://bucket[/prefix] --source DIR",
		Short: "How far the bucket is behind the source folder: pending files and bytes, oldest unsynced change, last successful sync",
		Long: `Report how far a synced prefix is behind its source, from local state
alone (no request to S3): files and bytes not yet uploaded, objects whose
source was deleted, the age of the oldest unsynced change, and the last
successful sync. While a sync holds the destination (a --watch running),
the figures are those of its last pass.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runStatus(cmd.Context(), args[0], source, stateDir, jsonOut)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&source, "source", "", "the source folder (default: the one the last sync used)")
	fl.StringVar(&stateDir, "state-dir", "", "directory of the state store (default $XDG_STATE_HOME/airlift or ~/.local/state/airlift)")
	fl.BoolVar(&jsonOut, "json", false, "print the status as JSON")
	return cmd
}

// syncStatus is what status prints.
type syncStatus struct {
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
}

func (a *app) runStatus(ctx context.Context, dst, source, stateDir string, jsonOut bool) error {
	loc, err := transfer.ParseLocation(dst)
	if err != nil {
		return usageErr("DST: %v", err)
	}
	store, err := a.openSyncStore(stateDir, loc)
	var le *state.LockedError
	if err != nil && !errors.As(err, &le) {
		return err
	}
	now := time.Now()
	var st syncStatus
	st.Dest = loc.String()
	var h syncer.History
	if store != nil {
		defer store.Close()
		if h, err = syncer.LoadHistory(syncer.HistoryPath(store.Path())); err != nil {
			return err
		}
		if source == "" {
			source = h.Source
		}
		if source == "" {
			return usageErr("no sync of %s is recorded: give --source DIR", loc)
		}
		rep, err := syncer.New(nil, store, syncer.Options{Source: source, Dest: loc, MaxDelete: -1}).Pending(ctx)
		if err != nil {
			return &exitError{code: exitFailed, err: err}
		}
		st.Live, st.AsOf = true, now
		st.PendingFiles, st.PendingBytes, st.PendingDeletes = rep.Pending, rep.PendingBytes, rep.DeletePending
		if !rep.OldestPending.IsZero() {
			t := rep.OldestPending
			st.OldestChange = &t
		}
	} else {
		// A sync holds the store: report its last pass.
		if h, err = syncer.LoadHistory(syncer.HistoryPath(le.Path)); err != nil {
			return err
		}
		st.RunningPID, st.AsOf = le.PID, h.Updated
		if source == "" {
			source = h.Source
		}
		st.PendingFiles, st.PendingBytes = h.PendingFiles, h.PendingBytes
		if !h.OldestPending.IsZero() {
			t := h.OldestPending
			st.OldestChange = &t
		}
	}
	st.Source = source
	if st.OldestChange != nil {
		st.OldestAgeSec = now.Sub(*st.OldestChange).Seconds()
	}
	if !h.LastSuccess.IsZero() {
		t := h.LastSuccess
		st.LastSuccess = &t
	}
	if !h.LastRun.IsZero() {
		t := h.LastRun
		st.LastRun = &t
	}
	st.LastRunOK = h.LastRunOK
	if lag, ok := h.Lag(now); ok {
		st.LagSeconds = lag.Seconds()
	}
	if jsonOut {
		enc := json.NewEncoder(a.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(st)
	}
	w := a.stdout
	fmt.Fprintf(w, "destination:  %s\nsource:       %s\n", st.Dest, st.Source)
	if st.RunningPID > 0 || !st.Live {
		fmt.Fprintf(w, "running:      a sync is running (pid %d); figures from its last pass at %s\n", st.RunningPID, st.AsOf.UTC().Format(time.RFC3339))
	}
	fmt.Fprintf(w, "pending:      %d files, %s to upload; %d objects whose source was deleted\n", st.PendingFiles, units.FormatBytes(st.PendingBytes), st.PendingDeletes)
	if st.OldestChange != nil {
		fmt.Fprintf(w, "oldest unsynced change: %s ago (%s)\n", age(now, *st.OldestChange), st.OldestChange.UTC().Format(time.RFC3339))
	} else {
		fmt.Fprintf(w, "oldest unsynced change: none\n")
	}
	if st.LastSuccess != nil {
		fmt.Fprintf(w, "last successful sync:   %s ago (%s)\n", age(now, *st.LastSuccess), st.LastSuccess.UTC().Format(time.RFC3339))
	} else {
		fmt.Fprintf(w, "last successful sync:   never\n")
	}
	if st.LastRun != nil && !st.LastRunOK {
		fmt.Fprintf(w, "last run:     %s, did not complete (see its output)\n", st.LastRun.UTC().Format(time.RFC3339))
	}
	return nil
}

func age(now, t time.Time) time.Duration {
	d := now.Sub(t)
	if d < 0 {
		return 0
	}
	return d.Round(time.Second)
}
