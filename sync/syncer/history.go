package syncer

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// History is what `airlift status` reads when it cannot compute afresh:
// the outcome of the last pass, kept in a small JSON file next to the
// state store (which a running watcher holds locked).
type History struct {
	Source  string    `json:"source"`
	Dest    string    `json:"destination"`
	PID     int       `json:"pid"`
	Updated time.Time `json:"updated"`
	// LastRun is when the last pass started; LastRunOK whether it
	// completed with nothing failed, refused or interrupted.
	LastRun   time.Time `json:"last_run"`
	LastRunOK bool      `json:"last_run_ok"`
	// LastSuccess is the start of the last pass that completed: every
	// change made before it is in the bucket.
	LastSuccess    time.Time `json:"last_success,omitzero"`
	LastSuccessEnd time.Time `json:"last_success_end,omitzero"`
	// SuccessSource is the source of the last pass that completed: a
	// pass that failed on a mistyped path must not become the default.
	SuccessSource string    `json:"success_source,omitempty"`
	PendingFiles  int64     `json:"pending_files"`
	PendingBytes  int64     `json:"pending_bytes"`
	OldestPending time.Time `json:"oldest_pending,omitzero"`
	Watching      bool      `json:"watching,omitempty"`
}

// HistoryPath is the history file for the state store at storePath.
func HistoryPath(storePath string) string {
	return storePath[:len(storePath)-len(filepath.Ext(storePath))] + ".sync.json"
}

// LoadHistory reads the history at p; a missing file is an empty history.
func LoadHistory(p string) (History, error) {
	var h History
	b, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return h, nil
	}
	if err != nil {
		return h, fmt.Errorf("sync history: %w", err)
	}
	if err := json.Unmarshal(b, &h); err != nil {
		return h, fmt.Errorf("sync history %s: %w", p, err)
	}
	return h, nil
}

// Save writes h to p atomically.
func (h History) Save(p string) error {
	b, err := json.MarshalIndent(h, "", "  ")
	if err != nil {
		return err
	}
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("sync history: %w", err)
	}
	if err := os.Rename(tmp, p); err != nil {
		return fmt.Errorf("sync history: %w", err)
	}
	return nil
}

// Record folds a pass into the history.
func (h *History) Record(r *Report, end time.Time) {
	h.Updated = end
	h.PID = os.Getpid()
	h.Source, h.Dest = r.Source, r.Dest
	h.LastRun = r.Started
	h.LastRunOK = r.OK()
	if h.LastRunOK {
		h.LastSuccess, h.LastSuccessEnd, h.SuccessSource = r.Started, end, r.Source
	}
	h.PendingFiles, h.PendingBytes, h.OldestPending = r.Pending, r.PendingBytes, r.OldestPending
}

// Lag is the replication lag at now: the time since the start of the
// last successful pass. Every change made before that start is in the
// bucket; a change made after it may not be. It is an upper bound, and it
// grows steadily while passes fail, which is what an alert wants. ok is
// false when no pass has succeeded yet.
func (h History) Lag(now time.Time) (lag time.Duration, ok bool) {
	if h.LastSuccess.IsZero() {
		return 0, false
	}
	return now.Sub(h.LastSuccess), true
}
