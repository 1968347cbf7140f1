// Package sync is documentation only: the folder holds airlift's
// continuous incremental sync, split into sub-packages with names of their
// own, because a package named "sync" would shadow the standard library's
// in every file that needs both (and the engine needs both):
//
//   - sync/syncer: one sync pass. A streaming merge of the key-ordered walk
//     of the source against the state store's key-ordered records (and,
//     with --reconcile or when adopting, the bucket listing), deciding per
//     key: new, changed, unchanged, deleted. Uploads go through the
//     transfer engine; deletions pass the safety rules first.
//   - sync/watch: the long-running mode: file events with a debounce, a
//     periodic rescan, files uploaded only once they have settled, and
//     the Prometheus metrics.
//
// There is no lock package: the state store's lock (internal/state, a
// flock naming its holder's PID) is the run lock, so a sync and a copy of
// the same destination never overlap either.
//
// Nothing imports this package.
package sync
