// Package snowball writes import job specifications for AWS Snow Family
// devices: the JSON that `aws snowball create-job --cli-input-json`
// accepts, and how many devices a dataset needs.
package snowball

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/airlift-io/airlift/internal/s3client"
)

// Device is one Snowball device type and the capacity to ask for.
type Device struct {
	Type     string // SnowballType
	Capacity string // SnowballCapacityPreference
	Name     string
	// Usable is what the S3 adapter can hold, in bytes (less than the
	// marketed raw capacity).
	Usable int64
}

const tb = 1_000_000_000_000

// Devices are the types airlift knows, by SnowballType. Usable figures
// are AWS's published usable storage for S3 data.
var Devices = map[string]Device{
	"V3_5S":  {"V3_5S", "T240", "Snowball Edge Storage Optimized 210 TB", 210 * tb},
	"EDGE_S": {"EDGE_S", "T98", "Snowball Edge Storage Optimized 80 TB", 80 * tb},
	"EDGE":   {"EDGE", "T100", "Snowball Edge Storage Optimized (100 TB raw)", 80 * tb},
	"EDGE_C": {"EDGE_C", "T42", "Snowball Edge Compute Optimized", 395 * tb / 10},
	"V3_5C":  {"V3_5C", "T32", "Snowball Edge Compute Optimized 28 TB", 28 * tb},
}

// DeviceTypes lists the known types, sorted.
func DeviceTypes() []string {
	var out []string
	for k := range Devices {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Placeholders stand in for account-specific values the user fills in;
// they pass the CLI's own checks so the file is ready to edit and send.
const (
	PlaceholderAddressID = "ADID00000000-0000-0000-0000-000000000000"
	PlaceholderAccount   = "123456789012"
)

// Options describe an import job.
type Options struct {
	Bucket         string
	BeginMarker    string // first key on the device; "" = from the start
	EndMarker      string // last key; "" = to the end
	DeviceType     string // a key of Devices; "" = V3_5S
	Capacity       string // "" = the device's own
	UsableBytes    int64  // 0 = the device's published usable capacity
	DatasetBytes   int64  // what is to be imported
	Region         string // for ARN partitions and the KMS placeholder; "" = us-east-1
	RoleARN        string // "" = placeholder
	KMSKeyARN      string // "" = placeholder
	AddressID      string // "" = placeholder
	ShippingOption string // "" = SECOND_DAY
	Description    string
}

// KeyRange is S3Resource.KeyRange.
type KeyRange struct {
	BeginMarker string `json:"BeginMarker,omitempty"`
	EndMarker   string `json:"EndMarker,omitempty"`
}

// S3Resource is one bucket (and key range) of the job.
type S3Resource struct {
	BucketArn string    `json:"BucketArn"`
	KeyRange  *KeyRange `json:"KeyRange,omitempty"`
}

// JobResources is JobResource.
type JobResources struct {
	S3Resources []S3Resource `json:"S3Resources"`
}

// JobSpec is the input of snowball:CreateJob, field for field.
type JobSpec struct {
	JobType                    string       `json:"JobType"`
	Resources                  JobResources `json:"Resources"`
	Description                string       `json:"Description,omitempty"`
	AddressID                  string       `json:"AddressId"`
	KmsKeyARN                  string       `json:"KmsKeyARN"`
	RoleARN                    string       `json:"RoleARN"`
	SnowballCapacityPreference string       `json:"SnowballCapacityPreference"`
	ShippingOption             string       `json:"ShippingOption"`
	SnowballType               string       `json:"SnowballType"`
}

// Plan is a job specification and the number of devices (one job each)
// the dataset needs.
type Plan struct {
	Spec        JobSpec
	Device      Device
	DeviceCount int
}

// NewPlan checks o and builds the plan.
func NewPlan(o Options) (*Plan, error) {
	if o.Bucket == "" {
		return nil, errors.New("--bucket is required")
	}
	if o.DatasetBytes <= 0 {
		return nil, errors.New("--dataset-bytes is required (e.g. 350TB)")
	}
	if o.DeviceType == "" {
		o.DeviceType = "V3_5S"
	}
	dev, ok := Devices[strings.ToUpper(o.DeviceType)]
	if !ok {
		return nil, fmt.Errorf("unknown --device-type %q (want one of %s)", o.DeviceType, strings.Join(DeviceTypes(), ", "))
	}
	if o.Capacity != "" {
		dev.Capacity = o.Capacity
	}
	if o.UsableBytes > 0 {
		dev.Usable = o.UsableBytes
	}
	if o.BeginMarker != "" && o.EndMarker != "" && o.BeginMarker > o.EndMarker {
		return nil, fmt.Errorf("key range %q..%q is empty", o.BeginMarker, o.EndMarker)
	}
	if o.Region == "" {
		o.Region = "us-east-1"
	}
	part := s3client.Partition(o.Region)
	if o.RoleARN == "" {
		o.RoleARN = "arn:" + part + ":iam::" + PlaceholderAccount + ":role/REPLACE-snowball-import-role"
	}
	if o.KMSKeyARN == "" {
		o.KMSKeyARN = "arn:" + part + ":kms:" + o.Region + ":" + PlaceholderAccount + ":key/REPLACE-kms-key-id"
	}
	if o.AddressID == "" {
		o.AddressID = PlaceholderAddressID
	}
	if o.ShippingOption == "" {
		o.ShippingOption = "SECOND_DAY"
	}
	if o.Description == "" {
		o.Description = "airlift import to s3://" + o.Bucket
	}
	res := S3Resource{BucketArn: "arn:" + part + ":s3:::" + o.Bucket}
	if o.BeginMarker != "" || o.EndMarker != "" {
		res.KeyRange = &KeyRange{BeginMarker: o.BeginMarker, EndMarker: o.EndMarker}
	}
	return &Plan{
		Device:      dev,
		DeviceCount: int((o.DatasetBytes + dev.Usable - 1) / dev.Usable),
		Spec: JobSpec{
			JobType: "IMPORT", Resources: JobResources{S3Resources: []S3Resource{res}},
			Description: o.Description, AddressID: o.AddressID, KmsKeyARN: o.KMSKeyARN, RoleARN: o.RoleARN,
			SnowballCapacityPreference: dev.Capacity, ShippingOption: o.ShippingOption, SnowballType: dev.Type,
		},
	}, nil
}

// WriteSpec writes the job specification of p to path as the JSON input
// of 'aws snowball create-job'.
func WriteSpec(path string, p *Plan) error {
	js, err := json.MarshalIndent(p.Spec, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(js, '\n'), 0o644)
}
