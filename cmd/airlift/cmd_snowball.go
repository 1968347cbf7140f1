package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/airlift-io/airlift/internal/outcome"
	"github.com/airlift-io/airlift/internal/s3client"
	"github.com/airlift-io/airlift/internal/snowball"
	"github.com/airlift-io/airlift/internal/ui"
	"github.com/airlift-io/airlift/internal/units"
	"github.com/airlift-io/airlift/transfer"
)

// autoExtractFlags batch small files into tar archives a Snowball Edge
// expands on import.
type autoExtractFlags struct {
	on            bool
	size, fileMax string
	keepWhole     []string
	dir           string
}

func (x *autoExtractFlags) register(fl *pflag.FlagSet) {
	fl.BoolVar(&x.on, "auto-extract", false, "snowball-edge: send small files as tar archives the import expands (metadata snowball-auto-extract=true)")
	fl.StringVar(&x.size, "batch-size", "1GiB", "with --auto-extract: bytes per archive (at most 100GB)")
	fl.StringVar(&x.fileMax, "batch-file-max", "1MiB", "with --auto-extract: files smaller than this are archived")
	fl.StringArrayVar(&x.keepWhole, "keep-whole", nil, "with --auto-extract: never archive files matching this glob (repeatable)")
	fl.StringVar(&x.dir, "batch-dir", "", "with --auto-extract: where archives are staged (default: the system temp dir)")
}

// options returns the engine's batch options, or nil without
// --auto-extract.
func (x autoExtractFlags) options(a *app) (*transfer.BatchOptions, error) {
	if !x.on {
		return nil, nil
	}
	if p, _ := s3client.ParseProfile(a.conn.targetProfile); p != s3client.ProfileSnowballEdge {
		return nil, outcome.Usagef("--auto-extract needs --target-profile snowball-edge: only a Snowball import expands the archives")
	}
	size, err := sizeFlag("batch-size", x.size)
	if err != nil {
		return nil, err
	}
	fileMax, err := sizeFlag("batch-file-max", x.fileMax)
	if err != nil {
		return nil, err
	}
	var keep *transfer.Filter
	if len(x.keepWhole) > 0 {
		if keep, err = transfer.NewFilter(x.keepWhole, nil); err != nil {
			return nil, outcome.Usagef("--keep-whole: %v", err)
		}
	}
	return &transfer.BatchOptions{MaxFileSize: fileMax, ArchiveSize: size, KeepWhole: keep, Dir: x.dir}, nil
}

func newSnowballCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "snowball",
		Short: "Helpers for moving data with an AWS Snowball Edge device",
	}
	cmd.AddCommand(newJobSpecCmd(a))
	return cmd
}

type jobSpecFlags struct {
	o       snowball.Options
	dataset string
	usable  string
	out     string
}

func newJobSpecCmd(a *app) *cobra.Command {
	var f jobSpecFlags
	cmd := &cobra.Command{
		Use:   "job-spec",
		Short: "Write an import job specification for `aws snowball create-job --cli-input-json`",
		Long: `Write the JSON input of 'aws snowball create-job' for an import job into
--bucket (optionally one key range), and say how many devices the dataset
needs (one job each). Account-specific values that are not given (--role-arn,
--kms-key-arn, --address-id) are filled with placeholders to replace.

The specification goes to stdout (or --out); the device count to stderr.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.runJobSpec(f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.o.Bucket, "bucket", "", "bucket the device's data is imported into")
	fl.StringVar(&f.o.BeginMarker, "key-range-begin", "", "first key of the range this job imports")
	fl.StringVar(&f.o.EndMarker, "key-range-end", "", "last key of the range this job imports")
	fl.StringVar(&f.o.DeviceType, "device-type", "V3_5S", "SnowballType: "+strings.Join(snowball.DeviceTypes(), ", "))
	fl.StringVar(&f.o.Capacity, "capacity", "", "SnowballCapacityPreference (default: the device type's)")
	fl.StringVar(&f.usable, "usable-capacity", "", "usable bytes per device (default: AWS's published figure)")
	fl.StringVar(&f.dataset, "dataset-bytes", "", "size of the dataset, e.g. 350TB; sets the device count")
	fl.StringVar(&f.o.RoleARN, "role-arn", "", "IAM role Snowball uses to write the bucket (default: a placeholder)")
	fl.StringVar(&f.o.KMSKeyARN, "kms-key-arn", "", "KMS key that protects the job (default: a placeholder)")
	fl.StringVar(&f.o.AddressID, "address-id", "", "shipping address id from 'aws snowball create-address' (default: a placeholder)")
	fl.StringVar(&f.o.ShippingOption, "shipping-option", "SECOND_DAY", "SECOND_DAY, NEXT_DAY, EXPRESS or STANDARD")
	fl.StringVar(&f.o.Description, "description", "", "job description")
	fl.StringVar(&f.out, "out", "", "write the specification to this file instead of stdout")
	return cmd
}

func (a *app) runJobSpec(f jobSpecFlags) error {
	var err error
	if f.o.DatasetBytes, err = sizeFlag("dataset-bytes", f.dataset); err != nil {
		return err
	}
	if f.o.UsableBytes, err = sizeFlag("usable-capacity", f.usable); err != nil {
		return err
	}
	f.o.Region = a.region()
	plan, err := snowball.NewPlan(f.o)
	if err != nil {
		return outcome.As(outcome.Usage, err)
	}
	if f.out != "" {
		if err := snowball.WriteSpec(f.out, plan); err != nil {
			return outcome.Failedf("--out: %w", err)
		}
	} else if err := ui.JSON(a.stdout, plan.Spec); err != nil {
		return err
	}
	fmt.Fprintf(a.stderr, "%s needs %d x %s (%s usable each, SnowballType %s, capacity %s): create %d job(s), one per device, each with its own key range\n",
		units.FormatBytes(f.o.DatasetBytes), plan.DeviceCount, plan.Device.Name, units.FormatBytes(plan.Device.Usable),
		plan.Device.Type, plan.Device.Capacity, plan.DeviceCount)
	return nil
}

// region is the region a job specification names.
func (a *app) region() string {
	if a.conn.region != "" {
		return a.conn.region
	}
	return os.Getenv("AWS_REGION")
}

// planSnowballFlags let plan write a Snowball import job specification
// for the dataset it scanned (existing Snowball customers).
type planSnowballFlags struct {
	job, bucket, deviceType string
}

func (p *planSnowballFlags) register(fl *pflag.FlagSet) {
	fl.StringVar(&p.job, "snowball-job", "", "write a Snowball import job specification for the scanned dataset to this file (implies --existing-snowball-customer)")
	fl.StringVar(&p.bucket, "snowball-bucket", "", "with --snowball-job: the bucket the devices import into")
	fl.StringVar(&p.deviceType, "snowball-device-type", "V3_5S", "with --snowball-job: SnowballType ("+strings.Join(snowball.DeviceTypes(), ", ")+")")
}

// check runs before the scan, so a bad flag costs nothing.
func (p planSnowballFlags) check() error {
	if p.job == "" {
		return nil
	}
	if p.bucket == "" {
		return outcome.Usagef("--snowball-job needs --snowball-bucket")
	}
	if _, err := snowball.NewPlan(snowball.Options{Bucket: p.bucket, DatasetBytes: 1, DeviceType: p.deviceType}); err != nil {
		return outcome.As(outcome.Usage, err)
	}
	return nil
}

// writePlanSnowballJob writes the specification for a dataset of n
// bytes; usable gives the plan config's device capacities so both agree
// on the device count.
func (a *app) writePlanSnowballJob(p planSnowballFlags, n int64, usable map[string]int64) error {
	if p.job == "" {
		return nil
	}
	pl, err := snowball.NewPlan(snowball.Options{Bucket: p.bucket, DatasetBytes: max(n, 1), DeviceType: p.deviceType,
		UsableBytes: usable[strings.ToUpper(p.deviceType)], Region: a.region()})
	if err != nil {
		return outcome.As(outcome.Usage, err)
	}
	if err := snowball.WriteSpec(p.job, pl); err != nil {
		return outcome.Failedf("--snowball-job: %w", err)
	}
	fmt.Fprintf(a.stderr, "snowball job specification: %s (%d x %s for %s; aws snowball create-job --cli-input-json file://%s, one job per device)\n",
		p.job, pl.DeviceCount, pl.Device.Name, units.FormatBytes(n), p.job)
	return nil
}
