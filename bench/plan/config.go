// Package plan scans a source tree and estimates, per transfer route
// (network, S3 Transfer Acceleration, AWS DataSync, a physical path), how
// long moving it to S3 takes and what it costs, and recommends one route.
// Every price, threshold and device figure comes from Config, whose
// default is embedded (default.json) with a source and date beside each
// figure, so a stale price is one edit away and a user can override it.
package plan

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"os"
)

//go:embed default.json
var defaultJSON []byte

// Figure is one number the estimator relies on, with where it comes from.
type Figure struct {
	Value  float64 `json:"value"`
	Text   string  `json:"text,omitempty"`
	Unit   string  `json:"unit"`
	Source string  `json:"source"`
	Date   string  `json:"date"`
	Note   string  `json:"note,omitempty"`
}

// Config holds every price, threshold and device figure.
type Config struct {
	Bands struct {
		NetworkMaxBytes Figure `json:"network_max_bytes"`
		OnlineMaxBytes  Figure `json:"online_max_bytes"`
	} `json:"bands"`
	S3 struct {
		PutPricePer1000       Figure `json:"put_price_per_1000"`
		IngressPricePerGB     Figure `json:"ingress_price_per_gb"`
		PartSizeBytes         Figure `json:"part_size_bytes"`
		RequestLatencySeconds Figure `json:"request_latency_seconds"`
		Concurrency           Figure `json:"concurrency"`
		SmallFileBytes        Figure `json:"small_file_bytes"`
	} `json:"s3"`
	// Storage prices each storage class a month, by its S3 name.
	Storage struct {
		Standard           StoragePrice `json:"STANDARD"`
		IntelligentTiering StoragePrice `json:"INTELLIGENT_TIERING"`
		StandardIA         StoragePrice `json:"STANDARD_IA"`
		OneZoneIA          StoragePrice `json:"ONEZONE_IA"`
		GlacierIR          StoragePrice `json:"GLACIER_IR"`
		Glacier            StoragePrice `json:"GLACIER"`
		DeepArchive        StoragePrice `json:"DEEP_ARCHIVE"`
	} `json:"storage"`
	Acceleration struct {
		PricePerGB     Figure `json:"price_per_gb"`
		DefaultSpeedup Figure `json:"default_speedup"`
	} `json:"acceleration"`
	DataSync struct {
		BasicPricePerGB           Figure `json:"basic_price_per_gb"`
		EnhancedPricePerGB        Figure `json:"enhanced_price_per_gb"`
		EnhancedPricePerExecution Figure `json:"enhanced_price_per_execution"`
		BasicMaxItemsPerExecution Figure `json:"basic_max_items_per_execution"`
		TaskThroughput            Figure `json:"task_throughput_bytes_per_sec"`
		ExecutionStartSeconds     Figure `json:"execution_start_seconds"`
	} `json:"datasync"`
	Terminal struct {
		PortBytesPerSec  Figure `json:"port_bytes_per_sec"`
		Ports            Figure `json:"ports"`
		PricePerPortHour Figure `json:"price_per_port_hour"`
		DriveFillRate    Figure `json:"drive_fill_bytes_per_sec"`
		LeadDays         Figure `json:"lead_days"`
	} `json:"terminal"`
	Snowball struct {
		ClosedToNewCustomers Figure `json:"closed_to_new_customers"`
		Device80Bytes        Figure `json:"device_80tb_bytes"`
		Device210Bytes       Figure `json:"device_210tb_bytes"`
		JobPrice80           Figure `json:"job_price_80tb"`
		JobPrice210          Figure `json:"job_price_210tb"`
		FillRate             Figure `json:"fill_bytes_per_sec"`
		TurnaroundDays       Figure `json:"turnaround_days"`
	} `json:"snowball"`
}

// StoragePrice is what keeping objects in one storage class costs a
// month. A figure the class does not have is zero (absent in the file).
type StoragePrice struct {
	PerGBMonth Figure `json:"price_per_gb_month"`
	// MinObjectBytes: a smaller object is billed as this size.
	MinObjectBytes Figure `json:"min_object_bytes"`
	// MinDays: an object removed earlier is billed for the rest.
	MinDays Figure `json:"min_storage_days"`
	// OverheadBytes per object are billed at this class's rate,
	// StandardOverheadBytes at STANDARD's (GLACIER, DEEP_ARCHIVE).
	OverheadBytes         Figure `json:"overhead_bytes_per_object"`
	StandardOverheadBytes Figure `json:"standard_overhead_bytes_per_object"`
	// MonitoringPer1000 is charged a month per 1,000 objects of at least
	// MonitoredMinBytes (INTELLIGENT_TIERING).
	MonitoringPer1000 Figure `json:"monitoring_per_1000_objects"`
	MonitoredMinBytes Figure `json:"monitored_min_bytes"`
}

// StoragePrices are the storage classes the config prices, by S3 name.
func (c *Config) StoragePrices() map[string]*StoragePrice {
	st := &c.Storage
	return map[string]*StoragePrice{"STANDARD": &st.Standard, "INTELLIGENT_TIERING": &st.IntelligentTiering,
		"STANDARD_IA": &st.StandardIA, "ONEZONE_IA": &st.OneZoneIA, "GLACIER_IR": &st.GlacierIR,
		"GLACIER": &st.Glacier, "DEEP_ARCHIVE": &st.DeepArchive}
}

// DefaultConfig returns the embedded figures.
func DefaultConfig() *Config {
	c, err := parseConfig(&Config{}, defaultJSON)
	if err != nil {
		// The embedded file is tested; a failure here is a build defect.
		panic(fmt.Sprintf("embedded default.json: %v", err))
	}
	return c
}

// LoadConfig reads path over the defaults: a file may override a few
// figures and leave the rest as shipped.
func LoadConfig(path string) (*Config, error) {
	c := DefaultConfig()
	if path == "" {
		return c, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if _, err := parseConfig(c, b); err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}

// DefaultJSON is the embedded config as shipped, for --print-config.
func DefaultJSON() []byte { return append([]byte(nil), defaultJSON...) }

func parseConfig(c *Config, b []byte) (*Config, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields() // a misspelt figure must not silently keep its default
	if err := dec.Decode(c); err != nil {
		return nil, err
	}
	return c, c.validate()
}

func (c *Config) validate() error {
	positive := map[string]float64{
		"bands.network_max_bytes":                c.Bands.NetworkMaxBytes.Value,
		"bands.online_max_bytes":                 c.Bands.OnlineMaxBytes.Value,
		"s3.part_size_bytes":                     c.S3.PartSizeBytes.Value,
		"s3.concurrency":                         c.S3.Concurrency.Value,
		"s3.small_file_bytes":                    c.S3.SmallFileBytes.Value,
		"acceleration.default_speedup":           c.Acceleration.DefaultSpeedup.Value,
		"datasync.basic_max_items_per_execution": c.DataSync.BasicMaxItemsPerExecution.Value,
		"datasync.task_throughput_bytes_per_sec": c.DataSync.TaskThroughput.Value,
		"terminal.port_bytes_per_sec":            c.Terminal.PortBytesPerSec.Value,
		"terminal.ports":                         c.Terminal.Ports.Value,
		"terminal.drive_fill_bytes_per_sec":      c.Terminal.DriveFillRate.Value,
		"snowball.device_80tb_bytes":             c.Snowball.Device80Bytes.Value,
		"snowball.device_210tb_bytes":            c.Snowball.Device210Bytes.Value,
		"snowball.fill_bytes_per_sec":            c.Snowball.FillRate.Value,
	}
	for k, v := range positive {
		if !(v > 0) {
			return fmt.Errorf("%s must be positive, not %v", k, v)
		}
	}
	nonNeg := map[string]float64{
		"s3.put_price_per_1000":                 c.S3.PutPricePer1000.Value,
		"s3.ingress_price_per_gb":               c.S3.IngressPricePerGB.Value,
		"s3.request_latency_seconds":            c.S3.RequestLatencySeconds.Value,
		"acceleration.price_per_gb":             c.Acceleration.PricePerGB.Value,
		"datasync.basic_price_per_gb":           c.DataSync.BasicPricePerGB.Value,
		"datasync.enhanced_price_per_gb":        c.DataSync.EnhancedPricePerGB.Value,
		"datasync.enhanced_price_per_execution": c.DataSync.EnhancedPricePerExecution.Value,
		"datasync.execution_start_seconds":      c.DataSync.ExecutionStartSeconds.Value,
		"terminal.price_per_port_hour":          c.Terminal.PricePerPortHour.Value,
		"terminal.lead_days":                    c.Terminal.LeadDays.Value,
		"snowball.job_price_80tb":               c.Snowball.JobPrice80.Value,
		"snowball.job_price_210tb":              c.Snowball.JobPrice210.Value,
		"snowball.turnaround_days":              c.Snowball.TurnaroundDays.Value,
	}
	for class, p := range c.StoragePrices() {
		for k, f := range map[string]Figure{"price_per_gb_month": p.PerGBMonth, "min_object_bytes": p.MinObjectBytes,
			"min_storage_days": p.MinDays, "overhead_bytes_per_object": p.OverheadBytes,
			"standard_overhead_bytes_per_object": p.StandardOverheadBytes,
			"monitoring_per_1000_objects":        p.MonitoringPer1000, "monitored_min_bytes": p.MonitoredMinBytes} {
			nonNeg["storage."+class+"."+k] = f.Value
		}
	}
	for k, v := range nonNeg {
		if v < 0 {
			return fmt.Errorf("%s must not be negative, not %v", k, v)
		}
	}
	if c.Bands.OnlineMaxBytes.Value < c.Bands.NetworkMaxBytes.Value {
		return fmt.Errorf("bands.online_max_bytes must be at least bands.network_max_bytes")
	}
	return nil
}

// SnowballUsable is the usable capacity of each Snowball device type the
// config knows, so that a job specification and the plan agree on the
// device count.
func (c *Config) SnowballUsable() map[string]int64 {
	return map[string]int64{"V3_5S": int64(c.Snowball.Device210Bytes.Value),
		"EDGE_S": int64(c.Snowball.Device80Bytes.Value), "EDGE": int64(c.Snowball.Device80Bytes.Value)}
}
