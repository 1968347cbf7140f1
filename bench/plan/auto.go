package plan

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/airlift-io/airlift/transfer"
)

// The kinds of route copy acts on: it runs the first two itself, hands
// DataSync to its driver and can only describe a physical path.
const (
	KindNetwork      = "network"
	KindAcceleration = "transfer-acceleration"
	KindDataSync     = "datasync"
	KindPhysical     = "physical"
)

// Kind is the kind of route the estimator's route name is.
func Kind(route string) string {
	switch route {
	case RouteNetwork:
		return KindNetwork
	case RouteAcceleration:
		return KindAcceleration
	case RouteDataSyncB, RouteDataSyncE:
		return KindDataSync
	}
	return KindPhysical
}

// DefaultBandwidth is the link assumed when nothing is known about it
// (plan's --bandwidth default, 1 Gbps).
const DefaultBandwidth = 1e9 / 8

// ProbeTime is how long copy --via auto measures a link it knows nothing
// about.
const ProbeTime = 3 * time.Second

// Decision is copy --via auto's choice, and its --json route object.
type Decision struct {
	Chosen      string  `json:"chosen"`      // a Kind
	Recommended string  `json:"recommended"` // the estimator's route name
	Reason      string  `json:"reason"`
	Probed      bool    `json:"probed"`
	Link        Link    `json:"link"`
	Dataset     Dataset `json:"dataset"`
	Band        string  `json:"band"`
	Deadline    float64 `json:"deadline_seconds,omitempty"`
	ScanSeconds float64 `json:"scan_seconds"`
	Estimates   []Route `json:"estimates"`
}

// AutoOptions say what copy --via auto knows before it looks.
type AutoOptions struct {
	Config  *Config
	Figures Figures
	Options Options // deadline, agents and other claims, as plan takes them
	Scan    ScanOptions
	// Probe measures what this host reaches to the destination, in
	// bytes/s, when no figure is known and the dataset is large enough
	// for the answer to matter. nil: the assumed link stands.
	Probe func(context.Context) (float64, error)
	// PackShardSize is the shard size of a copy that packs (copy --pack):
	// the routes airlift sends itself are then estimated on the requests
	// of the shards. 0: one object per file.
	PackShardSize int64
	// Source, when set, is the folder at root as the copy will walk it
	// (its filters applied): the scan is of its walk (ScanSource), which
	// the folder can keep for the copy to replay (transfer.Folder.KeepWalk)
	// instead of reading the folder twice.
	Source transfer.Source
}

// Decide scans root by stat alone (no content sample) and chooses the
// route the plan would recommend. A dataset under the network band with
// no deadline, that the assumed link already sends over the network,
// costs only the scan: no probe can make another route cheaper within
// 1.2x of it that matters at that size.
func Decide(ctx context.Context, root string, o AutoOptions) (*Decision, *Estimate, error) {
	cfg := o.Config
	so := o.Scan
	so.SampleBytes = -1
	if so.PartSize <= 0 {
		so.PartSize = int64(cfg.S3.PartSizeBytes.Value)
	}
	if so.SmallFile <= 0 {
		so.SmallFile = int64(cfg.S3.SmallFileBytes.Value)
	}
	var scan *Scan
	var err error
	if o.Source != nil {
		scan, err = ScanSource(ctx, o.Source, so)
	} else {
		scan, err = ScanTree(ctx, root, so)
	}
	if err != nil {
		return nil, nil, err
	}
	opts := o.Options
	if o.PackShardSize > 0 {
		opts.PackedRequests, _ = PackedRequests(scan, o.PackShardSize)
	}
	l, known := o.Figures.Resolve(cfg, &opts)
	if !known {
		l.BytesPerSec, l.Utilization = DefaultBandwidth, DefaultUtilization
		l.From = "assumed 1 Gbps (not measured)"
	}
	est, err := EstimateRoutes(cfg, scan.Dataset(), l, opts)
	if err != nil {
		return nil, nil, err
	}
	small := est.Band == BandNetwork && opts.Deadline == 0 && est.Recommended == RouteNetwork
	probed := false
	if !known && !small && o.Probe != nil {
		rate, err := o.Probe(ctx)
		if err != nil {
			return nil, nil, fmt.Errorf("measuring the link (give --bandwidth to skip it): %w", err)
		}
		if !(rate > 0) || math.IsInf(rate, 0) {
			return nil, nil, fmt.Errorf("measuring the link: no part completed in %s (give --bandwidth to skip it)", ProbeTime)
		}
		l.BytesPerSec, l.Utilization = rate, 1
		l.From = fmt.Sprintf("%s probe of the link", HumanDuration(ProbeTime.Seconds()))
		if opts.HostBytesPerSec == 0 {
			opts.HostBytesPerSec, opts.HostFrom = rate, l.From
		}
		if est, err = EstimateRoutes(cfg, scan.Dataset(), l, opts); err != nil {
			return nil, nil, err
		}
		probed = true
	}
	return &Decision{
		Chosen: Kind(est.Recommended), Recommended: est.Recommended, Reason: est.Reason, Probed: probed,
		Link: est.Link, Dataset: est.Dataset, Band: est.Band, Deadline: est.Deadline, ScanSeconds: scan.Seconds,
		Estimates: est.Routes,
	}, est, nil
}

// Route returns the estimate of the named route.
func (d *Decision) Route(name string) (Route, bool) {
	for _, r := range d.Estimates {
		if r.Name == name {
			return r, true
		}
	}
	return Route{}, false
}

// SnowballDevices is how many of the larger Snowball Edge devices the
// dataset fills.
func (c *Config) SnowballDevices(bytes int64) int64 {
	return max(int64(math.Ceil(float64(bytes)/c.Snowball.Device210Bytes.Value)), 1)
}

// BacklogWarning is what sync says before its first pass when sending
// the dataset at root over the network takes longer than the deadline in
// o: it keeps uploading (it is the ongoing-sync path), but the user
// learns what the plan would do instead. "" when the network meets it.
// It never probes: a sync should not write to learn the link.
func BacklogWarning(ctx context.Context, root string, o AutoOptions) (string, error) {
	if o.Options.Deadline <= 0 {
		return "", nil
	}
	o.Probe = nil
	d, _, err := Decide(ctx, root, o)
	if err != nil {
		return "", err
	}
	net, _ := d.Route(RouteNetwork)
	if net.Seconds <= d.Deadline {
		return "", nil
	}
	return fmt.Sprintf("SRC holds %s in %d files: sending it over the network takes about %s at %s (link from %s), longer than --deadline %s; the plan recommends %s (%s)",
		humanBytes(float64(d.Dataset.Bytes)), d.Dataset.Files, HumanDuration(net.Seconds), humanRate(net.BytesPerSec), d.Link.From,
		HumanDuration(d.Deadline), d.Chosen, d.Reason), nil
}
