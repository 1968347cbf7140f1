package main

import (
	"github.com/spf13/pflag"

	"github.com/airlift-io/airlift/internal/s3client"
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
		return nil, usageErr("--auto-extract needs --target-profile snowball-edge: only a Snowball import expands the archives")
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
			return nil, usageErr("--keep-whole: %v", err)
		}
	}
	return &transfer.BatchOptions{MaxFileSize: fileMax, ArchiveSize: size, KeepWhole: keep, Dir: x.dir}, nil
}
