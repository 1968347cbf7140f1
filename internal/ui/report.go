package ui

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/airlift-io/airlift/internal/units"
	"github.com/airlift-io/airlift/sync/syncer"
	"github.com/airlift-io/airlift/transfer"
	"github.com/airlift-io/airlift/transfer/datasync"
)

// JSON writes v as one indented JSON document: what every --json prints.
func JSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// ErrorJSON is what a command given --json prints when it ends before it
// has a report: scripts get one JSON document in every outcome.
type ErrorJSON struct {
	Error    string `json:"error"`
	Outcome  string `json:"outcome"`
	ExitCode int    `json:"exit_code"`
}

// SkippedJSON is what sync --json prints when another sync holds the
// destination.
type SkippedJSON struct {
	Skipped     bool   `json:"skipped"`
	Reason      string `json:"reason"`
	Destination string `json:"destination"`
}

// OneLine keeps a message to one line: SDK errors can carry newlines.
func OneLine(s string) string {
	s = strings.ReplaceAll(s, "\r", " ")
	return strings.ReplaceAll(s, "\n", " ")
}

func PrintCopySummary(out, errw io.Writer, r *transfer.Report, quiet bool) {
	for _, p := range r.Failures {
		where := transfer.DisplayName(p.Path)
		if p.Key != "" {
			where += " -> " + p.Key
		}
		fmt.Fprintf(errw, "failed: %s: %s\n", where, OneLine(p.Err))
	}
	if !quiet {
		for _, p := range r.Skipped {
			fmt.Fprintf(errw, "skipped: %s: %s\n", transfer.DisplayName(p.Path), OneLine(p.Err))
		}
	}
	for _, w := range r.Warnings {
		fmt.Fprintf(errw, "warning: %s\n", OneLine(w))
	}
	printRestore(errw, &r.RestoreList)
	if quiet {
		return
	}
	verb := "copied"
	if r.DryRun {
		verb = "would copy"
	}
	fmt.Fprintf(out, "%s %d files, %s in %s (%.1f MB/s); %d skipped, %d failed, %d retries\n",
		verb, r.Files, units.FormatBytes(r.Bytes), (time.Duration(r.Seconds * float64(time.Second))).Round(time.Millisecond),
		r.MBps, r.FilesSkipped, r.Failed, r.Retries)
	if r.Selection != nil {
		fmt.Fprintf(out, "subset: %s\n", SelectionLabel(r.Selection))
	}
	if r.BytesResumed > 0 {
		fmt.Fprintf(out, "resumed: %s of unfinished uploads were already on the server and not sent again\n", units.FormatBytes(r.BytesResumed))
	}
	if r.CopiedInServer > 0 {
		fmt.Fprintf(out, "copied by the server: %d objects", r.CopiedInServer)
		if r.NoBLAKE3 > 0 {
			fmt.Fprintf(out, "; %d have no BLAKE3 yet (copy --hash streams them to compute it)", r.NoBLAKE3)
		}
		fmt.Fprintln(out)
	}
	if r.Manifest != "" {
		fmt.Fprintf(out, "manifest: %s\n", r.Manifest)
	}
	if c := r.Compaction; c != nil && c.ShardsRewritten > 0 {
		fmt.Fprintf(out, "compacted: %d shard(s) rewritten into %d (%s, %d files moved); %d old shard(s) deleted\n",
			c.ShardsRewritten, c.ShardsWritten, units.FormatBytes(c.BytesRewritten), c.MembersMoved, c.ShardsDeleted)
	}
}

var diffWords = map[string]string{
	transfer.MissingRemote: "missing in S3",
	transfer.MissingLocal:  "missing locally",
	transfer.SizeDiffers:   "size differs",
	transfer.HashDiffers:   "BLAKE3 differs",
	transfer.HashUnknown:   "BLAKE3 unknown",
	transfer.CompareFailed: "error",
	transfer.NeedsRestore:  "needs restore",
}

// restoreShown is how many archived objects a text report names; --json
// lists them all.
const restoreShown = 10

// printRestore says which objects need a restore before they can be read
// (on errw even when quiet, so that cron's mail carries it).
func printRestore(w io.Writer, l *transfer.RestoreList) {
	msg := l.RestoreMessage()
	if msg == "" {
		return
	}
	fmt.Fprintf(w, "%s:\n", msg)
	for i, k := range l.Keys {
		if i == restoreShown {
			fmt.Fprintf(w, "  ... and %d more (in --json: needs_restore)\n", l.Count-restoreShown)
			break
		}
		fmt.Fprintf(w, "  %s\n", k)
	}
}

func PrintVerify(out, errw io.Writer, r *transfer.VerifyReport, quiet bool) {
	for _, d := range r.Differences {
		if d.Kind == transfer.NeedsRestore {
			continue // named together below
		}
		line := fmt.Sprintf("%s: %s", diffWords[d.Kind], d.Rel)
		switch d.Kind {
		case transfer.SizeDiffers:
			line += fmt.Sprintf(" (local %s bytes, S3 %s bytes)", d.Local, d.Remote)
		case transfer.HashDiffers:
			line += fmt.Sprintf(" (local %s, S3 %s)", d.Local, d.Remote)
		case transfer.HashUnknown, transfer.CompareFailed:
			line += ": " + OneLine(d.Detail)
		}
		fmt.Fprintln(out, line)
	}
	for _, w := range r.Warnings {
		fmt.Fprintf(errw, "warning: %s\n", OneLine(w))
	}
	printRestore(errw, &r.RestoreList)
	if quiet {
		return
	}
	mode := "fast (BLAKE3 recorded at upload)"
	if r.Deep {
		mode = fmt.Sprintf("deep (read back %s)", units.FormatBytes(r.ReadBytes))
	}
	verdict := "EQUAL"
	if r.Differ() > 0 {
		verdict = "DIFFERENT"
	}
	fmt.Fprintf(out, "%s: %d local files, %d objects; %d equal (%s); %d differ; %s in %s\n",
		verdict, r.LocalFiles, r.Objects, r.Equal, units.FormatBytes(r.EqualBytes), r.Differ(), mode,
		(time.Duration(r.Seconds * float64(time.Second))).Round(time.Millisecond))
	if r.Differ() > 0 {
		kinds := make([]string, 0, len(r.Counts))
		for k := range r.Counts {
			kinds = append(kinds, k)
		}
		sort.Strings(kinds)
		for _, k := range kinds {
			fmt.Fprintf(out, "  %s: %d\n", diffWords[k], r.Counts[k])
		}
	}
	if n := r.HashSources["index"]; n > 0 {
		fmt.Fprintf(out, "BLAKE3 from: the packed dataset's index %d\n", n)
	} else if len(r.HashSources) > 0 {
		fmt.Fprintf(out, "BLAKE3 from: manifest %d, metadata %d, tag %d (%d manifests read)\n",
			r.HashSources["manifest"], r.HashSources["metadata"], r.HashSources["tag"], r.Manifests)
	}
}

func PrintSyncEvent(w io.Writer, loc transfer.Location, e syncer.Event) {
	verb := e.Kind
	if e.DryRun {
		verb = "would " + e.Kind
	}
	fmt.Fprintf(w, "%s %s (%s)\n", verb, transfer.DisplayKey(loc, e.Key), units.FormatBytes(e.Size))
}

func PrintDataSyncSummary(w io.Writer, r *datasync.Result) {
	reused := func(b bool) string {
		if b {
			return " (reused)"
		}
		return " (created)"
	}
	fmt.Fprintf(w, "datasync %s: %s of ~%s transferred, %d files (%d verified, %d deleted, %d skipped) in %s (%.1f MB/s)\n",
		r.Status, units.FormatBytes(r.BytesTransferred), units.FormatBytes(r.EstimatedBytes), r.FilesTransferred,
		r.FilesVerified, r.FilesDeleted, r.FilesSkipped,
		time.Duration(r.Seconds*float64(time.Second)).Round(time.Millisecond), r.MBps)
	fmt.Fprintf(w, "task: %s%s\n", r.TaskArn, reused(r.Reused.Task))
	fmt.Fprintf(w, "execution: %s\n", r.ExecutionArn)
	if r.ErrorCode != "" {
		fmt.Fprintf(w, "error: %s: %s\n", r.ErrorCode, r.ErrorDetail)
	}
}

// SyncReportOptions say how a sync pass is shown.
type SyncReportOptions struct {
	JSON, Quiet bool
	Compact     bool // one JSON line per pass (--watch)
	Delete      bool // deletions were asked for: a refusal is news
}

// PrintSyncReport prints a pass: failures and refusals on errw, a summary
// on out only when something changed (or as JSON).
func PrintSyncReport(out, errw io.Writer, rep *syncer.Report, err error, o SyncReportOptions) {
	if rep == nil {
		return
	}
	for _, p := range rep.Failures {
		where := transfer.DisplayName(p.Path)
		if p.Key != "" {
			if where != "" {
				where += " -> "
			}
			where += p.Key
		}
		fmt.Fprintf(errw, "failed: %s: %s\n", where, OneLine(p.Err))
	}
	for _, w := range rep.Warnings {
		fmt.Fprintf(errw, "warning: %s\n", OneLine(w))
	}
	if rep.DeleteRefused != "" && o.Delete {
		fmt.Fprintf(errw, "deleted nothing (%d pending): %s\n", rep.DeletePending, rep.DeleteRefused)
	}
	if o.JSON {
		if o.Compact {
			_ = json.NewEncoder(out).Encode(rep)
		} else {
			_ = JSON(out, rep)
		}
		return
	}
	if o.Quiet || !rep.Notable() || err != nil && rep.Uploaded == 0 && rep.Deleted == 0 && rep.Adopted == 0 {
		return
	}
	verb := "synced"
	if rep.DryRun {
		verb = "would sync"
	}
	fmt.Fprintf(out, "%s %s: %d uploaded (%s), %d adopted, %d deleted, %d unchanged, %d failed, %d pending in %s\n",
		verb, rep.Dest, rep.Uploaded, units.FormatBytes(rep.Bytes), rep.Adopted, rep.Deleted, rep.Skipped, rep.Failed,
		rep.Pending, time.Duration(rep.Seconds*float64(time.Second)).Round(time.Millisecond))
}

// PrintStatus prints how far a synced prefix is behind its source.
func PrintStatus(w io.Writer, st *syncer.Status, now time.Time) {
	fmt.Fprintf(w, "destination:  %s\nsource:       %s\n", st.Dest, st.Source)
	switch {
	case st.FirstPass:
		fmt.Fprintf(w, "running:      the first sync is running (pid %d); no pass has completed yet, so everything in the source counts as pending\n", st.RunningPID)
	case st.RunningPID > 0 || !st.Live:
		fmt.Fprintf(w, "running:      a sync is running (pid %d); figures from its last pass at %s\n", st.RunningPID, st.AsOf.UTC().Format(time.RFC3339))
	}
	fmt.Fprintf(w, "pending:      %d files, %s to upload; %d objects whose source was deleted\n", st.PendingFiles, units.FormatBytes(st.PendingBytes), st.PendingDeletes)
	ago := func(t time.Time) string {
		return fmt.Sprintf("%s ago (%s)", max(now.Sub(t), 0).Round(time.Second), t.UTC().Format(time.RFC3339))
	}
	if st.OldestChange != nil {
		fmt.Fprintf(w, "oldest unsynced change: %s\n", ago(*st.OldestChange))
	} else {
		fmt.Fprintf(w, "oldest unsynced change: none\n")
	}
	if st.LastSuccess != nil {
		fmt.Fprintf(w, "last successful sync:   %s\n", ago(*st.LastSuccess))
	} else {
		fmt.Fprintf(w, "last successful sync:   never\n")
	}
	if st.LastRun != nil && !st.LastRunOK {
		fmt.Fprintf(w, "last run:     %s, did not complete (see its output)\n", st.LastRun.UTC().Format(time.RFC3339))
	}
}

// CleanupJSON is what cleanup --json prints.
type CleanupJSON struct {
	Result        *transfer.CleanupReport `json:"result"`
	LifecycleRule map[string]any          `json:"lifecycle_rule"`
}

// PrintCleanup prints what cleanup did and the lifecycle rule to set.
func PrintCleanup(w io.Writer, loc transfer.Location, rep *transfer.CleanupReport, rule map[string]any, dryRun bool) {
	for _, it := range rep.Items {
		fmt.Fprintf(w, "%-11s s3://%s/%s upload %s started %s: %s\n", it.Action, loc.Bucket, it.Key, it.UploadID,
			it.Initiated.UTC().Format(time.RFC3339), it.Reason)
	}
	verb := "aborted"
	if dryRun {
		verb = "would abort"
	}
	fmt.Fprintf(w, "%s %d, kept %d, failed %d\n", verb, rep.Aborted, rep.Kept, rep.Failed)
	b, _ := json.MarshalIndent(rule, "", "  ")
	fmt.Fprintf(w, "\nSo that S3 aborts unfinished uploads under this prefix on its own, set this lifecycle rule\n"+
		"(it replaces the bucket's lifecycle configuration: merge it with any rules already there):\n"+
		"  aws s3api put-bucket-lifecycle-configuration --bucket %s --lifecycle-configuration file://rule.json\n%s\n", loc.Bucket, b)
}

// DataSyncProgress shows a DataSync execution's updates: bytes
// transferred against DataSync's estimate (its file counters lag, bytes
// do not), a log line at each phase change.
func DataSyncProgress(p *Progress) func(datasync.Progress) {
	return func(u datasync.Progress) {
		total := int64(-1)
		if u.EstimatedBytes > 0 {
			total = u.EstimatedBytes
		}
		p.Set(Snapshot{Label: "datasync " + u.Status, Done: u.BytesTransferred, Total: total, Bytes: true, Phase: u.Status,
			Log: fmt.Sprintf("datasync %s %s of ~%s, %d of ~%d files", u.Status,
				units.FormatBytes(u.BytesTransferred), units.FormatBytes(u.EstimatedBytes), u.FilesTransferred, u.EstimatedFiles)})
	}
}

// PrintDownloadFailures prints a download's failures in the direction of
// the copy (key, then file) and takes them out of the report.
func PrintDownloadFailures(errw io.Writer, loc transfer.Location, rep *transfer.Report) {
	for _, p := range rep.Failures {
		where := transfer.DisplayKey(loc, p.Key)
		if p.Path != "" {
			where += " -> " + transfer.DisplayName(p.Path)
		}
		fmt.Fprintf(errw, "failed: %s: %s\n", where, OneLine(p.Err))
	}
	rep.Failures = nil
}

// SelectionLabel words a --sample or --slice for a summary.
func SelectionLabel(s *transfer.Selection) string {
	var parts []string
	switch {
	case s.SampleFiles > 0:
		parts = append(parts, fmt.Sprintf("sample of %d files (%.3g%% of the hash range)", s.SampleFiles, s.Sample*100))
	case s.Sample > 0:
		parts = append(parts, fmt.Sprintf("sample of %.3g%%", s.Sample*100))
	}
	if s.By == "dir" {
		parts = append(parts, "whole folders")
	}
	if s.Slice != "" {
		parts = append(parts, "slice "+s.Slice)
	}
	return strings.Join(parts, ", ")
}
