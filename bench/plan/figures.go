package plan

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/airlift-io/airlift/internal/state"
)

// Figures are what is known about the site's link and this host's copy
// rate, from the user and from earlier runs. plan and copy --via auto
// resolve them the same way (Resolve), so they choose the same route for
// the same inputs.
type Figures struct {
	// Bandwidth is the site's link in bytes/s (--bandwidth); 0: not given.
	Bandwidth   float64
	Utilization float64 // share of Bandwidth a transfer gets; 0: DefaultUtilization
	// HostRate is what this host reaches copying (--host-throughput);
	// 0: not given.
	HostRate    float64
	Profile     *Profile // a bench profile (--bench-profile)
	ProfileFrom string
	Saved       *SavedRate // the last copy's measured rate to this endpoint
}

// DefaultUtilization is the share of a link's bandwidth a transfer is
// assumed to get when the link is given rather than measured.
const DefaultUtilization = 0.8

// Resolve returns the link the estimate uses and fills o with this host's
// rate. The link comes from --bandwidth, else the bench profile, else the
// last copy's rate; this host's rate from --host-throughput, else the
// profile, else the last copy. ok is false when nothing is known about
// the link (copy then probes it).
func (f Figures) Resolve(cfg *Config, o *Options) (l Link, ok bool) {
	l = Link{RequestLatency: cfg.S3.RequestLatencySeconds.Value, Concurrency: int(cfg.S3.Concurrency.Value)}
	switch {
	case f.Bandwidth > 0:
		l.BytesPerSec, l.Utilization, l.From = f.Bandwidth, f.Utilization, "--bandwidth"
		if l.Utilization <= 0 {
			l.Utilization = DefaultUtilization
		}
		ok = true
	case f.Profile != nil:
		l, ok = f.Profile.Link("bench profile "+f.ProfileFrom), true
	case f.Saved != nil:
		l.BytesPerSec, l.Utilization, l.From = f.Saved.BytesPerSec, 1, f.Saved.from()
		ok = true
	}
	switch {
	case o.HostBytesPerSec > 0:
	case f.HostRate > 0:
		o.HostBytesPerSec, o.HostFrom = f.HostRate, "--host-throughput"
	case f.Profile != nil:
		o.HostBytesPerSec, o.HostFrom = f.Profile.UploadBytesPerSec, "bench profile"
	case f.Saved != nil:
		o.HostBytesPerSec, o.HostFrom = f.Saved.BytesPerSec, f.Saved.from()
	}
	return l, ok
}

// SavedRate is the throughput the last copy to one endpoint reached,
// kept in the state directory so that the next plan or copy --via auto
// knows this host's rate without measuring it again.
type SavedRate struct {
	BytesPerSec float64   `json:"bytes_per_sec"`
	Bytes       int64     `json:"bytes"`
	Seconds     float64   `json:"seconds"`
	When        time.Time `json:"when"`
}

func (s *SavedRate) from() string {
	return fmt.Sprintf("last copy to this endpoint (%s in %s, %s)", humanBytes(float64(s.Bytes)), HumanDuration(s.Seconds), s.When.Format("2006-01-02"))
}

// MinRecordBytes is the least a copy must send for its rate to be kept: a
// small copy is bound by request latency and start-up, and its rate would
// understate what the host reaches on a dataset worth planning.
const MinRecordBytes = 256 << 20

// ratesFile holds SavedRate by endpoint ("" is AWS) in the state directory.
const ratesFile = "rates.json"

// stateDir is dir, or the default state directory for "".
func stateDir(dir string) string {
	if dir == "" {
		dir, _ = state.DefaultDir()
	}
	return dir
}

// LoadRate returns the rate saved for endpoint in the state directory dir
// ("" the default), or nil.
func LoadRate(dir, endpoint string) (*SavedRate, error) {
	if dir = stateDir(dir); dir == "" {
		return nil, nil
	}
	m, err := loadRates(dir)
	if err != nil || m[endpoint] == nil || !(m[endpoint].BytesPerSec > 0) {
		return nil, err
	}
	return m[endpoint], nil
}

func loadRates(dir string) (map[string]*SavedRate, error) {
	b, err := os.ReadFile(filepath.Join(dir, ratesFile))
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]*SavedRate{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("saved rates: %w", err)
	}
	m := map[string]*SavedRate{}
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("saved rates %s: %w", filepath.Join(dir, ratesFile), err)
	}
	return m, nil
}

// RecordRate keeps what a copy to endpoint reached, when it sent at least
// MinRecordBytes (else it does nothing). The file is replaced by rename,
// so a reader never sees half of it; two copies ending together keep the
// last one's rate.
func RecordRate(dir, endpoint string, bytes int64, d time.Duration, now time.Time) error {
	if dir = stateDir(dir); bytes < MinRecordBytes || d <= 0 || dir == "" {
		return nil
	}
	m, err := loadRates(dir)
	if err != nil {
		m = map[string]*SavedRate{} // an unreadable file is replaced, not fatal
	}
	m[endpoint] = &SavedRate{BytesPerSec: float64(bytes) / d.Seconds(), Bytes: bytes, Seconds: d.Seconds(), When: now.UTC()}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("saving the copy rate: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ratesFile+".*")
	if err != nil {
		return fmt.Errorf("saving the copy rate: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("saving the copy rate: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("saving the copy rate: %w", err)
	}
	if err := os.Rename(tmp.Name(), filepath.Join(dir, ratesFile)); err != nil {
		return fmt.Errorf("saving the copy rate: %w", err)
	}
	return nil
}
