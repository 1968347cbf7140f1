package plan

import "context"

// Packing compares the S3 requests (and their price) of copying a dataset
// with one object per file against copy --pack, which writes WebDataset
// tar shards: a dataset of small files pays per request, not per byte.
type Packing struct {
	// MedianFileBelow bounds the median file's size (the top of its
	// histogram bucket).
	MedianFileBelow int64   `json:"median_file_below"`
	Requests        int64   `json:"requests"`
	CostUSD         float64 `json:"request_cost_usd"`
	PackedRequests  int64   `json:"packed_requests"`
	PackedCostUSD   float64 `json:"packed_request_cost_usd"`
	Shards          int64   `json:"shards"`
	ShardSize       int64   `json:"shard_size"`
	// Recommended: the median file is under 1 MiB, where requests, not
	// bytes, set the time and the price.
	Recommended bool `json:"recommended"`
}

// packRecommendBelow is the median file size under which packing is
// recommended.
const packRecommendBelow = 1 << 20

// tarPerFile is what a tar shard adds per file: a header block and, on
// average, half a block of padding (a PAX header for long names is rare).
const tarPerFile = 512 + 256

// AdvisePack estimates the requests of copy --pack with shards of
// shardSize against those the scan counted for one object per file; nil
// for an empty dataset or one whose median file is 1 MiB or more. Files
// larger than a shard go as objects of their own, as copy --pack sends
// them.
func AdvisePack(cfg *Config, s *Scan, shardSize int64) *Packing {
	if s.Files == 0 || shardSize <= 0 {
		return nil
	}
	median, seen := int64(0), int64(0)
	for _, b := range s.Histogram {
		seen += b.Files
		if 2*seen >= s.Files {
			median = b.Hi
			break
		}
	}
	if median > packRecommendBelow {
		return nil
	}
	reqs, shards := PackedRequests(s, shardSize)
	p := &Packing{MedianFileBelow: median, Requests: s.Requests, Shards: shards, ShardSize: shardSize,
		PackedRequests: reqs, Recommended: true}
	price := cfg.S3.PutPricePer1000.Value / 1000
	p.CostUSD, p.PackedCostUSD = float64(p.Requests)*price, float64(p.PackedRequests)*price
	return p
}

// PackedRequests is how many requests copy --pack makes, with shards of
// shardSize, for the files the scan counted, and in how many shards:
// each shard's parts (or one PUT) with its create, complete and tag,
// files larger than a shard as objects of their own, then the index and
// shards.json.
func PackedRequests(s *Scan, shardSize int64) (requests, shards int64) {
	if s.Files == 0 || shardSize <= 0 {
		return 0, 0
	}
	part := max(s.PartSize, 1)
	var packedBytes, packedFiles, plainReqs int64
	for _, b := range s.Histogram {
		if b.Lo >= shardSize {
			plainReqs += b.Files*3 + b.Bytes/part + b.Files // create, complete, tag, and the parts
			continue
		}
		packedFiles += b.Files
		packedBytes += b.Bytes
	}
	if packedFiles > 0 {
		packedBytes += packedFiles*tarPerFile + 1024
		shards = (packedBytes + shardSize - 1) / shardSize
	}
	shardReqs := shards // one PUT each
	if shardSize > part && shards > 0 {
		shardReqs = (packedBytes+part-1)/part + shards*3
	}
	return shardReqs + plainReqs + 2, shards
}

// compressPaysBelow is the sampled zstd ratio (compressed/original) under
// which copy --pack --compress auto compresses shards: saving less than a
// tenth of the bytes does not pay for compressing every file twice.
const compressPaysBelow = 0.9

// CompressPays samples the tree at root, as plan does, and says whether
// zstd shrinks it enough to compress its shards (--compress auto), with
// the ratio measured.
func CompressPays(ctx context.Context, root string) (bool, float64, error) {
	s, err := ScanTree(ctx, root, ScanOptions{SampleBytes: 32 << 20, SmallFile: 1 << 20, PartSize: 8 << 20})
	if err != nil {
		return false, 0, err
	}
	if s.SampledFiles == 0 {
		return false, 1, nil
	}
	return s.Ratio < compressPaysBelow, s.Ratio, nil
}
