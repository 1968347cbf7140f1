package plan

import (
	"fmt"
	"math"
	"sort"
	"time"
)

// Dataset is what the estimator needs to know about the source; a Scan
// provides it.
type Dataset struct {
	Bytes int64 `json:"bytes"`
	Files int64 `json:"files"`
	Dirs  int64 `json:"dirs"`
	// Requests is the S3 requests a copy makes: one PUT per small file, and
	// create + parts + complete per multipart file.
	Requests int64 `json:"requests"`
}

// Link is the network path to S3.
type Link struct {
	BytesPerSec    float64 `json:"bytes_per_sec"` // nominal bandwidth
	Utilization    float64 `json:"utilization"`   // share of it a transfer gets, (0,1]
	RequestLatency float64 `json:"request_latency_seconds"`
	Concurrency    int     `json:"concurrency"`
	// PutsPerSec, when measured by bench, replaces Concurrency/Latency.
	PutsPerSec float64 `json:"puts_per_sec,omitempty"`
	From       string  `json:"from"` // "flags" or the bench profile's path
}

// Effective is the byte rate a transfer gets.
func (l Link) Effective() float64 { return l.BytesPerSec * l.Utilization }

// RequestRate is how many requests per second the link sustains when
// requests, not bytes, are the limit.
func (l Link) RequestRate() float64 {
	if l.PutsPerSec > 0 {
		return l.PutsPerSec
	}
	if l.RequestLatency <= 0 {
		return math.Inf(1)
	}
	return float64(max(l.Concurrency, 1)) / l.RequestLatency
}

// Options are the user's constraints and claims.
type Options struct {
	Deadline time.Duration // 0: none
	// AccelerationSpeedup is the factor S3 Transfer Acceleration gains over
	// the plain network route for this user; 0 means the config default
	// (none claimed).
	AccelerationSpeedup float64
	// DataSyncThroughput caps one DataSync task, bytes/s; 0: config.
	DataSyncThroughput       float64
	ExistingSnowballCustomer bool
	SnowballTurnaroundDays   float64 // 0: config
	ChangeBytesPerDay        float64 // 0: no continuous sync sizing
}

// Route names.
const (
	RouteNetwork      = "network"
	RouteAcceleration = "transfer-acceleration"
	RouteDataSyncB    = "datasync-basic"
	RouteDataSyncE    = "datasync-enhanced"
	RouteTerminal     = "data-transfer-terminal"
	RouteSnowball80   = "snowball-edge-80tb"
	RouteSnowball210  = "snowball-edge-210tb"
)

// Bands, from AWS's migration guidance.
const (
	BandNetwork  = "network"  // under ~100 GB: plain network copy
	BandOnline   = "online"   // ~100 GB to ~10 TB: DataSync or Transfer Acceleration
	BandPhysical = "physical" // over ~10 TB: physical transfer or a dedicated link
)

// Route is one way to move the dataset, with its time and cost.
type Route struct {
	Name          string   `json:"name"`
	Title         string   `json:"title"`
	Seconds       float64  `json:"seconds"`
	CostUSD       float64  `json:"cost_usd"`
	Requests      int64    `json:"requests"`
	Executions    int64    `json:"executions,omitempty"`
	Devices       int64    `json:"devices,omitempty"`
	InBand        bool     `json:"in_band"`
	MeetsDeadline *bool    `json:"meets_deadline,omitempty"`
	Notes         []string `json:"notes,omitempty"`
}

// Sync sizes the continuous sync that follows the bulk copy.
type Sync struct {
	ChangeBytesPerDay float64 `json:"change_bytes_per_day"`
	LinkBytesPerDay   float64 `json:"link_bytes_per_day"`
	// DailySeconds is how long sending one day's changes takes.
	DailySeconds float64 `json:"daily_seconds"`
	LinkShare    float64 `json:"link_share"`
	// BacklogBytes piles up while the recommended bulk route runs;
	// CatchUpSeconds is how long the link then needs to drain it while
	// keeping up with new changes (+Inf when it never can).
	BacklogBytes   float64 `json:"backlog_bytes"`
	CatchUpSeconds float64 `json:"catch_up_seconds"`
	Warning        string  `json:"warning,omitempty"`
}

// Estimate is the estimator's answer.
type Estimate struct {
	Dataset     Dataset  `json:"dataset"`
	Link        Link     `json:"link"`
	Band        string   `json:"band"`
	Deadline    float64  `json:"deadline_seconds,omitempty"`
	Routes      []Route  `json:"routes"`
	Recommended string   `json:"recommended"`
	Reason      string   `json:"reason"`
	Sync        *Sync    `json:"sync,omitempty"`
	Notes       []string `json:"notes,omitempty"`
	// Packing is set when the median file is small enough for copy
	// --pack to pay (see AdvisePack).
	Packing *Packing `json:"packing,omitempty"`
}

const day = 86400.0

// EstimateRoutes prices and times every route for d over l.
func EstimateRoutes(cfg *Config, d Dataset, l Link, o Options) (*Estimate, error) {
	if !(l.BytesPerSec > 0) || math.IsInf(l.BytesPerSec, 0) {
		return nil, fmt.Errorf("bandwidth must be positive")
	}
	if !(l.Utilization > 0 && l.Utilization <= 1) {
		return nil, fmt.Errorf("utilization must be in (0, 1], not %v", l.Utilization)
	}
	if d.Bytes < 0 || d.Files < 0 || d.Requests < 0 {
		return nil, fmt.Errorf("negative dataset figures")
	}
	e := &Estimate{Dataset: d, Link: l, Band: band(cfg, d.Bytes), Deadline: o.Deadline.Seconds()}
	gb := float64(d.Bytes) / 1e9
	reqCost := float64(d.Requests) / 1000 * cfg.S3.PutPricePer1000.Value
	ingress := gb * cfg.S3.IngressPricePerGB.Value
	rate := l.Effective()

	// Network: bytes at the effective rate, plus the time the requests
	// themselves take when the link is not the limit (many small files).
	netSec := float64(d.Bytes)/rate + float64(d.Requests)/l.RequestRate()
	e.Routes = append(e.Routes, Route{
		Name: RouteNetwork, Title: "Network (airlift copy)", Seconds: netSec, CostUSD: reqCost + ingress,
		Requests: d.Requests,
		Notes:    []string{fmt.Sprintf("%.0f%% of the link; request cost only, data in to S3 is free", l.Utilization*100)},
	})

	speedup := o.AccelerationSpeedup
	if speedup <= 0 {
		speedup = cfg.Acceleration.DefaultSpeedup.Value
	}
	ta := Route{
		Name: RouteAcceleration, Title: "S3 Transfer Acceleration", Seconds: netSec / speedup,
		CostUSD: reqCost + gb*cfg.Acceleration.PricePerGB.Value, Requests: d.Requests,
	}
	if speedup == 1 {
		ta.Notes = append(ta.Notes, "no speed-up claimed: measure yours and pass --acceleration-speedup")
	} else {
		ta.Notes = append(ta.Notes, fmt.Sprintf("speed-up %.2gx as given", speedup))
	}
	e.Routes = append(e.Routes, ta)

	dsCap := o.DataSyncThroughput
	if dsCap <= 0 {
		dsCap = cfg.DataSync.TaskThroughput.Value
	}
	dsSec := float64(d.Bytes) / math.Min(rate, dsCap)
	items := d.Files + d.Dirs
	execs := int64(math.Ceil(float64(items) / cfg.DataSync.BasicMaxItemsPerExecution.Value))
	execs = max(execs, 1)
	basic := Route{
		Name: RouteDataSyncB, Title: "AWS DataSync (Basic)", Seconds: dsSec,
		CostUSD: gb*cfg.DataSync.BasicPricePerGB.Value + reqCost, Requests: d.Requests, Executions: execs,
		Notes: []string{"on-premises NFS/SMB/HDFS sources need a DataSync agent", "time from bytes only: per-file overhead is not modelled"},
	}
	if execs > 1 {
		basic.Notes = append(basic.Notes, fmt.Sprintf("%d files and directories exceed Basic mode's %.0f per execution: split into %d task executions (by folder or manifest)",
			items, cfg.DataSync.BasicMaxItemsPerExecution.Value, execs))
	}
	e.Routes = append(e.Routes, basic, Route{
		Name: RouteDataSyncE, Title: "AWS DataSync (Enhanced)", Seconds: dsSec,
		CostUSD:    gb*cfg.DataSync.EnhancedPricePerGB.Value + cfg.DataSync.EnhancedPricePerExecution.Value + reqCost,
		Requests:   d.Requests,
		Executions: 1,
		Notes:      []string{"on-premises NFS/SMB sources need an Enhanced mode DataSync agent; no per-execution item limit"},
	})

	// Data Transfer Terminal: fill your own drives, carry them to the
	// facility, upload over its ports.
	portRate := cfg.Terminal.PortBytesPerSec.Value * cfg.Terminal.Ports.Value
	upHours := math.Ceil(float64(d.Bytes) / portRate / 3600)
	upHours = math.Max(upHours, 1)
	e.Routes = append(e.Routes, Route{
		Name: RouteTerminal, Title: "AWS Data Transfer Terminal",
		Seconds: cfg.Terminal.LeadDays.Value*day + float64(d.Bytes)/cfg.Terminal.DriveFillRate.Value + upHours*3600,
		CostUSD: upHours*cfg.Terminal.Ports.Value*cfg.Terminal.PricePerPortHour.Value + reqCost, Requests: d.Requests,
		Notes: []string{fmt.Sprintf("bring your own drives to a bookable AWS facility (up to %.0f x %.0f Gbps; enterprise customers)",
			cfg.Terminal.Ports.Value, cfg.Terminal.PortBytesPerSec.Value*8/1e9)},
	})

	closed := cfg.Snowball.ClosedToNewCustomers.Text
	if o.ExistingSnowballCustomer {
		turn := o.SnowballTurnaroundDays
		if turn <= 0 {
			turn = cfg.Snowball.TurnaroundDays.Value
		}
		for _, dev := range []struct {
			name, title string
			cap, price  float64
		}{
			{RouteSnowball80, "Snowball Edge Storage Optimized 80 TB", cfg.Snowball.Device80Bytes.Value, cfg.Snowball.JobPrice80.Value},
			{RouteSnowball210, "Snowball Edge Storage Optimized 210 TB", cfg.Snowball.Device210Bytes.Value, cfg.Snowball.JobPrice210.Value},
		} {
			n := max(int64(math.Ceil(float64(d.Bytes)/dev.cap)), 1)
			e.Routes = append(e.Routes, Route{
				Name: dev.name, Title: dev.title, Devices: n, Requests: d.Requests,
				Seconds: float64(d.Bytes)/cfg.Snowball.FillRate.Value + turn*day,
				CostUSD: float64(n)*dev.price + reqCost,
				Notes:   []string{fmt.Sprintf("%d device(s), %.0f days turnaround; closed to new customers since %s", n, turn, closed)},
			})
		}
	} else {
		e.Notes = append(e.Notes, fmt.Sprintf("Snowball Edge is not considered: closed to new customers since %s (pass --existing-snowball-customer if your account still orders it)", closed))
	}

	for i := range e.Routes {
		r := &e.Routes[i]
		r.InBand = inBand(e.Band, r.Name)
		if o.Deadline > 0 {
			ok := r.Seconds <= o.Deadline.Seconds()
			r.MeetsDeadline = &ok
		}
	}
	recommend(e, o)
	if o.ChangeBytesPerDay > 0 {
		e.Sync = sizeSync(e, o.ChangeBytesPerDay, rate)
	}
	return e, nil
}

func band(cfg *Config, bytes int64) string {
	switch b := float64(bytes); {
	case b < cfg.Bands.NetworkMaxBytes.Value:
		return BandNetwork
	case b <= cfg.Bands.OnlineMaxBytes.Value:
		return BandOnline
	}
	return BandPhysical
}

func inBand(band, route string) bool {
	switch band {
	case BandNetwork:
		return route == RouteNetwork
	case BandOnline:
		return route == RouteDataSyncB || route == RouteDataSyncE || route == RouteAcceleration
	}
	// A dedicated link (Direct Connect) is the network route on a faster
	// --bandwidth.
	return route == RouteTerminal || route == RouteSnowball80 || route == RouteSnowball210 || route == RouteNetwork
}

// recommend picks the cheapest route that meets the deadline; without a
// deadline, the cheapest in the dataset's band. Ties go to the band, then
// to the faster route.
func recommend(e *Estimate, o Options) {
	cands := []Route{}
	for _, r := range e.Routes {
		if o.Deadline > 0 && *r.MeetsDeadline || o.Deadline == 0 && r.InBand {
			cands = append(cands, r)
		}
	}
	size := humanBytes(float64(e.Dataset.Bytes))
	if len(cands) == 0 && o.Deadline > 0 {
		best := e.Routes[0]
		for _, r := range e.Routes[1:] {
			if r.Seconds < best.Seconds {
				best = r
			}
		}
		e.Recommended = best.Name
		e.Reason = fmt.Sprintf("No route meets the deadline of %s, so %s, the fastest at %s, is recommended.",
			HumanDuration(o.Deadline.Seconds()), best.Title, HumanDuration(best.Seconds))
		return
	}
	sort.SliceStable(cands, func(i, j int) bool {
		a, b := cands[i], cands[j]
		if math.Abs(a.CostUSD-b.CostUSD) > 0.01 {
			return a.CostUSD < b.CostUSD
		}
		if a.InBand != b.InBand {
			return a.InBand
		}
		return a.Seconds < b.Seconds
	})
	best := cands[0]
	e.Recommended = best.Name
	if o.Deadline > 0 {
		e.Reason = fmt.Sprintf("%s is the cheapest route that meets the deadline of %s (%s, about $%.2f) for %s in the %s band.",
			best.Title, HumanDuration(o.Deadline.Seconds()), HumanDuration(best.Seconds), best.CostUSD, size, e.Band)
	} else {
		e.Reason = fmt.Sprintf("%s is the cheapest route in the %s band for %s (%s, about $%.2f); give --deadline to weigh time against cost.",
			best.Title, e.Band, size, HumanDuration(best.Seconds), best.CostUSD)
	}
}

func sizeSync(e *Estimate, change, rate float64) *Sync {
	s := &Sync{ChangeBytesPerDay: change, LinkBytesPerDay: rate * day}
	s.DailySeconds = change / rate
	s.LinkShare = change / s.LinkBytesPerDay
	var bulk float64
	for _, r := range e.Routes {
		if r.Name == e.Recommended {
			bulk = r.Seconds
		}
	}
	s.BacklogBytes = change * bulk / day
	drain := rate - change/day
	if drain <= 0 {
		s.CatchUpSeconds = math.Inf(1)
		s.Warning = fmt.Sprintf("the change rate (%s/day) exceeds what the link carries (%s/day): a continuous sync never catches up",
			humanBytes(change), humanBytes(s.LinkBytesPerDay))
		return s
	}
	s.CatchUpSeconds = s.BacklogBytes / drain
	if s.LinkShare > 0.5 {
		s.Warning = fmt.Sprintf("the change rate takes %.0f%% of the link: little room for catching up after an outage", s.LinkShare*100)
	}
	return s
}

// HumanDuration renders seconds as days, hours or minutes.
func HumanDuration(s float64) string {
	switch {
	case math.IsInf(s, 1):
		return "never"
	case s >= 2*day:
		return fmt.Sprintf("%.1f days", s/day)
	case s >= 2*3600:
		return fmt.Sprintf("%.1f hours", s/3600)
	case s >= 120:
		return fmt.Sprintf("%.0f min", s/60)
	}
	return fmt.Sprintf("%.1f s", s)
}

// humanBytes renders decimal units, as network and storage are priced.
func humanBytes(b float64) string {
	for _, u := range []struct {
		f float64
		s string
	}{{1e15, "PB"}, {1e12, "TB"}, {1e9, "GB"}, {1e6, "MB"}, {1e3, "kB"}} {
		if b >= u.f {
			return fmt.Sprintf("%.1f %s", b/u.f, u.s)
		}
	}
	return fmt.Sprintf("%.0f B", b)
}
