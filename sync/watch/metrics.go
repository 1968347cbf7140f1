package watch

import (
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/airlift-io/airlift/sync/syncer"
	"github.com/airlift-io/airlift/transfer"
)

// Metrics are the Prometheus metrics of a long-running sync, on a
// registry of their own. Byte and file counters move while a pass runs
// (they read the pass's live Stats), not only when it ends.
type Metrics struct {
	reg *prometheus.Registry
	now func() time.Time

	mu                       sync.Mutex
	cur                      *transfer.Stats
	files, bytes             int64 // of finished passes
	deleted, failed, passes  int64
	pendingFiles, pendingB   int64
	lastSuccess, lastSuccEnd time.Time
}

// NewMetrics registers the metrics; now is the clock for the lag.
func NewMetrics(now func() time.Time) *Metrics {
	if now == nil {
		now = time.Now
	}
	m := &Metrics{reg: prometheus.NewRegistry(), now: now}
	m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	counter := func(name, help string, f func() float64) {
		m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, f))
	}
	gauge := func(name, help string, f func() float64) {
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f))
	}
	counter("airlift_sync_uploaded_bytes_total", "Bytes of files uploaded.", m.read(func() float64 {
		return float64(m.bytes + load(m.cur, func(s *transfer.Stats) int64 { return s.BytesDone.Load() }))
	}))
	counter("airlift_sync_uploaded_files_total", "Files uploaded.", m.read(func() float64 {
		return float64(m.files + load(m.cur, func(s *transfer.Stats) int64 { return s.FilesDone.Load() }))
	}))
	counter("airlift_sync_deleted_objects_total", "Objects deleted because their source was deleted.", m.read(func() float64 { return float64(m.deleted) }))
	counter("airlift_sync_failures_total", "Files that failed to upload or delete, summed over passes.", m.read(func() float64 { return float64(m.failed) }))
	counter("airlift_sync_passes_total", "Sync passes run.", m.read(func() float64 { return float64(m.passes) }))
	gauge("airlift_sync_pending_files", "Files changed in the source and not yet in the bucket, at the end of the last pass.", m.read(func() float64 { return float64(m.pendingFiles) }))
	gauge("airlift_sync_pending_bytes", "Bytes of the pending files.", m.read(func() float64 { return float64(m.pendingB) }))
	gauge("airlift_sync_last_success_timestamp_seconds", "Unix time at which the last successful pass started (0: none yet).", m.read(func() float64 {
		if m.lastSuccess.IsZero() {
			return 0
		}
		return float64(m.lastSuccess.UnixNano()) / 1e9
	}))
	gauge("airlift_sync_replication_lag_seconds", "Time since the start of the last successful pass: every change older than that is in the bucket.", m.read(func() float64 {
		if m.lastSuccess.IsZero() {
			return 0
		}
		return m.now().Sub(m.lastSuccess).Seconds()
	}))
	return m
}

func (m *Metrics) read(f func() float64) func() float64 {
	return func() float64 {
		m.mu.Lock()
		defer m.mu.Unlock()
		return f()
	}
}

func load(s *transfer.Stats, f func(*transfer.Stats) int64) int64 {
	if s == nil {
		return 0
	}
	return f(s)
}

// Start tells the metrics a pass began with the live counters st.
func (m *Metrics) Start(st *transfer.Stats) {
	m.mu.Lock()
	m.cur = st
	m.mu.Unlock()
}

// Finish folds a finished pass in.
func (m *Metrics) Finish(r *syncer.Report, h syncer.History) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.cur = nil
	m.passes++
	if r != nil {
		if !r.DryRun {
			m.files += r.Uploaded
			m.bytes += r.Bytes
			m.deleted += r.Deleted
		}
		m.failed += r.Failed
		m.pendingFiles, m.pendingB = r.Pending, r.PendingBytes
	}
	m.lastSuccess, m.lastSuccEnd = h.LastSuccess, h.LastSuccessEnd
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}
