package plan

import (
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/airlift-io/airlift/internal/outcome"
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
	From       string  `json:"from"` // --bandwidth, the bench profile's path, the last copy, a probe
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
	// HostBytesPerSec is what this host reaches copying to S3 (a bench
	// profile, the last copy, --host-throughput): the network routes go
	// no faster than it, whatever the link. 0: unknown, the link decides.
	HostBytesPerSec float64
	HostFrom        string // where HostBytesPerSec came from, for the reason
	// DataSyncAgents run tasks in parallel, each up to DataSyncThroughput,
	// together no faster than the link; 0 means one.
	DataSyncAgents int
	// Hosts run the network route side by side, each on a slice of the
	// dataset (copy --slice K/N): the time each host spends (its bytes
	// at the link's rate, its requests at the request rate) divides by
	// Hosts, but the bytes of all of them share the site's uplink,
	// UplinkBytesPerSec (0: the link's effective rate). 0 or 1: one host.
	Hosts             int
	UplinkBytesPerSec float64
	// PackedRequests, when positive, is what the copy sends packed into
	// tar shards (copy --pack, see PackedRequests): the routes airlift
	// sends itself (network, acceleration) make that many requests, the
	// others copy the files one object each.
	PackedRequests int64
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
	BytesPerSec   float64  `json:"bytes_per_sec,omitempty"` // the online routes' rate, bytes only
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
	Hosts       int      `json:"hosts,omitempty"` // running the network route side by side
	Routes      []Route  `json:"routes"`
	Recommended string   `json:"recommended"`
	Reason      string   `json:"reason"`
	Sync        *Sync    `json:"sync,omitempty"`
	Notes       []string `json:"notes,omitempty"`
	// Packing is set when the median file is small enough for copy
	// --pack to pay (see AdvisePack).
	Packing *Packing `json:"packing,omitempty"`
	// Storage is the monthly storage bill at the destination (see Bill).
	Storage *StorageBill `json:"storage,omitempty"`
}

const day = 86400.0

// hostsSeconds is how long o.Hosts hosts take together, each taking one
// slice: one host's time over the hosts, but never less than the bytes
// take through the shared uplink.
func hostsSeconds(oneHost, bytes, hostRate float64, o Options) float64 {
	return max(oneHost/float64(o.Hosts), bytes/uplink(hostRate, o))
}

func uplink(hostRate float64, o Options) float64 {
	if o.UplinkBytesPerSec > 0 {
		return o.UplinkBytesPerSec
	}
	return hostRate
}

func hostsNote(oneHost, hostRate float64, o Options) string {
	return fmt.Sprintf("%d hosts (--slice K/%d), one host alone: %s; the shared uplink (%.3g Gbps) caps the sum",
		o.Hosts, o.Hosts, fmtDays(oneHost), uplink(hostRate, o)*8/1e9)
}

func fmtDays(sec float64) string {
	if sec >= day {
		return fmt.Sprintf("%.1f days", sec/day)
	}
	return time.Duration(sec * float64(time.Second)).Round(time.Second).String()
}

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
	e := &Estimate{Dataset: d, Link: l, Band: band(cfg, d.Bytes), Deadline: o.Deadline.Seconds(), Hosts: max(o.Hosts, 0)}
	if o.Hosts == 1 {
		e.Hosts = 0
	}
	gb := float64(d.Bytes) / 1e9
	reqCost := float64(d.Requests) / 1000 * cfg.S3.PutPricePer1000.Value
	// What airlift's own routes send: the files, or the shards they are
	// packed into.
	ownReqs, ownReqCost := d.Requests, reqCost
	var packNote string
	if o.PackedRequests > 0 {
		ownReqs = o.PackedRequests
		ownReqCost = float64(ownReqs) / 1000 * cfg.S3.PutPricePer1000.Value
		packNote = fmt.Sprintf("packed into tar shards (copy --pack): %d requests instead of %d", ownReqs, d.Requests)
	}
	ingress := gb * cfg.S3.IngressPricePerGB.Value
	rate := l.Effective()
	// This host's own copy rate bounds the routes it sends itself; a
	// DataSync agent is another machine, bound by the link alone.
	host := rate
	if o.HostBytesPerSec > 0 {
		host = math.Min(rate, o.HostBytesPerSec)
	}

	// Network: bytes at the rate this host gets through the link, plus the
	// time the requests themselves take when the link is not the limit
	// (many small files).
	netSec := float64(d.Bytes)/host + float64(ownReqs)/l.RequestRate()
	netNote := fmt.Sprintf("%.0f%% of the link; request cost only, data in to S3 is free", l.Utilization*100)
	if host < rate {
		netNote = fmt.Sprintf("this host reaches %s (%s), less than the link's %s; request cost only, data in to S3 is free",
			humanRate(host), o.HostFrom, humanRate(rate))
	}
	net := Route{
		Name: RouteNetwork, Title: "Network (airlift copy)", Seconds: netSec, BytesPerSec: host, CostUSD: ownReqCost + ingress,
		Requests: ownReqs, Notes: []string{netNote},
	}
	if packNote != "" {
		net.Notes = append(net.Notes, packNote)
	}
	if o.Hosts > 1 {
		// Each host its slice at its own rate; all of them through the
		// site's uplink (the link's effective rate unless given).
		net.Seconds, net.Notes = hostsSeconds(netSec, float64(d.Bytes), rate, o), append(net.Notes, hostsNote(netSec, rate, o))
	}
	e.Routes = append(e.Routes, net)

	speedup := o.AccelerationSpeedup
	if speedup <= 0 {
		speedup = cfg.Acceleration.DefaultSpeedup.Value
	}
	// Acceleration shortens the path, not this host's own limit.
	taRate := rate * speedup
	if o.HostBytesPerSec > 0 {
		taRate = math.Min(rate*speedup, o.HostBytesPerSec)
	}
	ta := Route{
		Name: RouteAcceleration, Title: "S3 Transfer Acceleration", BytesPerSec: taRate,
		Seconds: float64(d.Bytes)/taRate + float64(ownReqs)/(l.RequestRate()*speedup),
		CostUSD: ownReqCost + gb*cfg.Acceleration.PricePerGB.Value, Requests: ownReqs,
	}
	if packNote != "" {
		ta.Notes = append(ta.Notes, packNote)
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
	agents := max(o.DataSyncAgents, 1)
	dsRate := math.Min(rate, float64(agents)*dsCap)
	// Each execution launches and prepares before it moves a byte: on a
	// small dataset that, not the rate, is DataSync's time.
	start := cfg.DataSync.ExecutionStartSeconds.Value
	dsSec := float64(d.Bytes) / dsRate
	dsNote := fmt.Sprintf("%d agent(s) at up to %s each: %s", agents, humanRate(dsCap), humanRate(dsRate))
	if dsRate == rate {
		dsNote += ", the link's share"
	}
	items := d.Files + d.Dirs
	execs := int64(math.Ceil(float64(items) / cfg.DataSync.BasicMaxItemsPerExecution.Value))
	execs = max(execs, 1)
	basic := Route{
		Name: RouteDataSyncB, Title: "AWS DataSync (Basic)", Seconds: dsSec + float64(execs)*start, BytesPerSec: dsRate,
		CostUSD: gb*cfg.DataSync.BasicPricePerGB.Value + reqCost, Requests: d.Requests, Executions: execs,
		Notes: []string{dsNote, "on-premises NFS/SMB/HDFS sources need a DataSync agent", "time from bytes and each execution's start: per-file overhead is not modelled"},
	}
	if execs > 1 {
		basic.Notes = append(basic.Notes, fmt.Sprintf("%d files and directories exceed Basic mode's %.0f per execution: split into %d task executions (by folder or manifest)",
			items, cfg.DataSync.BasicMaxItemsPerExecution.Value, execs))
	}
	e.Routes = append(e.Routes, basic, Route{
		Name: RouteDataSyncE, Title: "AWS DataSync (Enhanced)", Seconds: dsSec + start, BytesPerSec: dsRate,
		CostUSD:    gb*cfg.DataSync.EnhancedPricePerGB.Value + cfg.DataSync.EnhancedPricePerExecution.Value + reqCost,
		Requests:   d.Requests,
		Executions: 1,
		Notes:      []string{dsNote, "on-premises NFS/SMB sources need an Enhanced mode DataSync agent; no per-execution item limit"},
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

// Within is how much slower than the fastest route a cheaper one may be
// and still be recommended when there is no deadline: a fifth more time
// for a fraction of the cost is what most migrations would choose, and
// more than that is a choice the user should make with --deadline.
const Within = 1.2

// recommend picks, on the figures, the cheapest route that meets the
// deadline, or without one the cheapest within Within of the fastest.
// Costs within a cent are a tie, broken by AWS's size band (context, not
// a rule), then by time. The reason names the figures that decided.
func recommend(e *Estimate, o Options) {
	fastest := e.Routes[0]
	for _, r := range e.Routes[1:] {
		if r.Seconds < fastest.Seconds {
			fastest = r
		}
	}
	cands := []Route{}
	for _, r := range e.Routes {
		if o.Deadline > 0 && *r.MeetsDeadline || o.Deadline == 0 && r.Seconds <= fastest.Seconds*Within {
			cands = append(cands, r)
		}
	}
	if len(cands) == 0 {
		e.Recommended = fastest.Name
		e.Reason = fmt.Sprintf("No route meets the deadline of %s, so %s, the fastest at %s, is recommended.",
			HumanDuration(o.Deadline.Seconds()), fastest.Title, HumanDuration(fastest.Seconds))
		return
	}
	tiedOnBand := false
	sort.SliceStable(cands, func(i, j int) bool {
		a, b := cands[i], cands[j]
		if math.Abs(a.CostUSD-b.CostUSD) > 0.01 {
			return a.CostUSD < b.CostUSD
		}
		if a.InBand != b.InBand {
			tiedOnBand = true
			return a.InBand
		}
		return a.Seconds < b.Seconds
	})
	best := cands[0]
	e.Recommended = best.Name
	why := fmt.Sprintf("the cheapest route within %.1fx of the fastest (%s, %s)", Within, fastest.Title, HumanDuration(fastest.Seconds))
	if best.Name == fastest.Name {
		why = "the fastest route and the cheapest within " + fmt.Sprintf("%.1fx", Within) + " of it"
	}
	if o.Deadline > 0 {
		why = "the cheapest route that meets the deadline of " + HumanDuration(o.Deadline.Seconds())
	}
	// The comparison that decided: against the network route when it lost,
	// else against the next candidate, or the fastest route it beat on cost.
	var alt *Route
	for i := range e.Routes {
		r := &e.Routes[i]
		switch {
		case r.Name == best.Name:
		case best.Name != RouteNetwork && r.Name == RouteNetwork:
			alt = r
		case best.Name == RouteNetwork && alt == nil && len(cands) > 1 && r.Name == cands[1].Name:
			alt = r
		}
	}
	if alt == nil && best.Name != fastest.Name {
		alt = &fastest
	}
	vs := ""
	if alt != nil {
		vs = fmt.Sprintf(", against %s at %s%s for $%.2f", alt.Title, HumanDuration(alt.Seconds), rateIn(*alt), alt.CostUSD)
	}
	tie := ""
	if tiedOnBand && len(cands) > 1 && math.Abs(cands[0].CostUSD-cands[1].CostUSD) <= 0.01 {
		tie = fmt.Sprintf("; a tie on cost went to the route of AWS's %s band", e.Band)
	}
	e.Reason = fmt.Sprintf("%s is %s: %s%s for about $%.2f for %s%s%s.",
		best.Title, why, HumanDuration(best.Seconds), rateIn(best), best.CostUSD, humanBytes(float64(e.Dataset.Bytes)), vs, tie)
}

// rateIn names an online route's rate, for a reason sentence.
func rateIn(r Route) string {
	if r.BytesPerSec <= 0 {
		return ""
	}
	return " at " + humanRate(r.BytesPerSec)
}

// humanRate renders bytes/s in decimal units, as links are sold.
func humanRate(bps float64) string {
	for _, u := range []struct {
		f float64
		s string
	}{{1e12, "TB/s"}, {1e9, "GB/s"}, {1e6, "MB/s"}, {1e3, "kB/s"}} {
		if bps >= u.f {
			return fmt.Sprintf("%.3g %s", bps/u.f, u.s)
		}
	}
	return fmt.Sprintf("%.0f B/s", bps)
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

// Validate checks o before anything is scanned.
func (o Options) Validate() error {
	switch {
	case o.AccelerationSpeedup < 0 || o.AccelerationSpeedup > 0 && o.AccelerationSpeedup < 1:
		return outcome.BadOption("AccelerationSpeedup", "{AccelerationSpeedup} is a factor of at least 1, not %v", o.AccelerationSpeedup)
	case o.DataSyncAgents < 0:
		return outcome.BadOption("DataSyncAgents", "{DataSyncAgents} must not be negative")
	}
	return nil
}
