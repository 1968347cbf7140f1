package transfer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/klauspost/compress/zstd"

	"github.com/airlift-io/airlift/internal/outcome"
)

// Compact rewrites the shards of the packed dataset at dst whose live
// share (bytes of live members over bytes of all members) is below
// below: their live members go into new shards, through the one upload
// pipeline, read from the old shards by ranged GETs and checked against
// the BLAKE3 the index recorded; the new index drops the old shards'
// lines, and the old shards are deleted only once it is written. The new
// shards are uncompressed.
func (u *Uploader) Compact(ctx context.Context, dst Location, below float64) (*Report, error) {
	if !(below > 0 && below <= 1) {
		return nil, outcome.BadOption("Below", "must be in (0, 100%%]")
	}
	x, err := LoadPackIndex(ctx, u.api, dst)
	if err != nil {
		return nil, err
	}
	if x == nil {
		return nil, outcome.As(outcome.Usage, fmt.Errorf("%s: %w", dst, ErrNotPacked))
	}
	// Two passes over the index: the bytes of each shard (a map per
	// shard, not per member), then the live members of the shards to
	// rewrite, which are the compaction's work (kept by path, since the
	// new shards read them back by path).
	total, live := map[string]int64{}, map[string]int64{}
	err = x.Scan(ctx, func(m IndexMember) error {
		if m.Shard != "" {
			total[m.Shard] += m.Size + 512
			if m.State == "" {
				live[m.Shard] += m.Size + 512
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	rewrite, from := map[string]bool{}, map[string]IndexMember{}
	var moved []IndexMember
	for sh, n := range total {
		if float64(live[sh]) < below*float64(n) {
			rewrite[sh] = true
		}
	}
	if len(rewrite) > 0 {
		err = x.ScanLive(ctx, func(m IndexMember) error {
			if rewrite[m.Shard] {
				from[m.Path] = m
				moved = append(moved, m)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	sort.Slice(moved, func(i, j int) bool { return moved[i].Path < moved[j].Path })
	o := u.o.Pack
	if o == nil {
		o = &PackOptions{}
		if err := o.check(); err != nil {
			return nil, err
		}
	}
	p := *o
	p.Compress, p.Previous, p.rewrite, p.from = false, x, rewrite, from
	u.o.Pack = &p
	src := memberList{loc: dst, members: moved}
	rep, err := u.copyTree(ctx, src, dst, func(runID string) (Sink, error) { return newPackSink(u, p, dst, runID) })
	if rep != nil && rep.Compaction == nil {
		rep.Compaction = &CompactionReport{} // nothing was below: nothing rewritten
	}
	return rep, u.flushJournal(err)
}

// compactAfter compacts the dataset at dst once a run (a sync --pack)
// has written its index, and adds what it did to that run's report. The
// compaction is a run of its own, as `airlift compact` is: its counts stay
// out of the sync's (Stats, files, bytes), and it keeps no journal (a
// compaction stopped half way leaves the old shards and index standing,
// and is simply run again).
func (u *Uploader) compactAfter(ctx context.Context, rep *Report, dst Location) error {
	o := u.o
	p := *o.Pack
	below := p.CompactBelow
	p.CompactBelow, p.Previous, p.Delete = 0, nil, false
	o.Pack, o.Journal, o.Manifest = &p, nil, false
	cu, err := NewUploader(u.api, u.bucket, o, &Stats{Retries: u.Stats.Retries})
	if err != nil {
		return err
	}
	crep, err := cu.Compact(ctx, dst, below)
	if crep == nil {
		return err
	}
	rep.Compaction = crep.Compaction
	rep.Retries = u.Stats.Retries.Load()
	rep.Warnings = append(rep.Warnings, crep.Warnings...)
	for _, f := range crep.Failures {
		rep.fail(f)
	}
	rep.Failed += crep.Failed
	return err
}

// memberList is the live members a compaction moves, as a Source: their
// entries, in key order; their bytes are read by the shard sink itself.
type memberList struct {
	loc     Location
	members []IndexMember
}

func (l memberList) String() string { return l.loc.String() }
func (l memberList) Tree() bool     { return true }

func (l memberList) Walk(ctx context.Context, fn func(Entry) error) error {
	for _, m := range l.members {
		if err := ctx.Err(); err != nil {
			return err
		}
		e := Entry{Path: l.loc.String() + "/" + m.Path, Rel: m.Path, Size: m.Size, ModTime: time.Unix(0, m.MTimeNS), Mode: os.FileMode(m.Mode)}
		if err := fn(e); err != nil {
			return err
		}
	}
	return nil
}

func (l memberList) Open(context.Context, Entry) (Reader, error) {
	return nil, errors.New("a compacted member is read by its shard")
}

// readFromShard reads part of a moved member from the shard it is in: a
// ranged GET of its bytes, or of its frame in a compressed shard.
func (s *packSink) readFromShard(ctx context.Context, m *shardMember, p []byte, off int64) error {
	im, ok := s.o.from[m.rel]
	if !ok {
		return fmt.Errorf("not in the index")
	}
	key := s.base + im.Shard
	rng := fmt.Sprintf("bytes=%d-%d", im.Offset+off, im.Offset+off+int64(len(p))-1)
	if im.ZSize > 0 {
		rng = fmt.Sprintf("bytes=%d-%d", im.ZOffset, im.ZOffset+im.ZSize-1)
	}
	out, err := s.u.api.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.dst.Bucket), Key: aws.String(key), Range: aws.String(rng)})
	if err != nil {
		return wrapf(err, "GetObject %s", key)
	}
	defer out.Body.Close()
	var r io.Reader = out.Body
	if im.ZSize > 0 {
		zr, err := zstd.NewReader(out.Body, zstd.WithDecoderConcurrency(1))
		if err != nil {
			return err
		}
		defer zr.Close()
		if _, err := io.CopyN(io.Discard, zr, im.ZSkip+off); err != nil {
			return fmt.Errorf("frame in %s: %w", key, err)
		}
		r = zr
	}
	if _, err := io.ReadFull(r, p); err != nil {
		return fmt.Errorf("reading %s from %s: %w", m.rel, key, err)
	}
	return nil
}

// removeShards deletes the shards a compaction rewrote.
func (s *packSink) removeShards(ctx context.Context, rep *Report) error {
	var ids []types.ObjectIdentifier
	for sh := range s.o.rewrite {
		ids = append(ids, types.ObjectIdentifier{Key: aws.String(s.base + sh)})
	}
	sort.Slice(ids, func(i, j int) bool { return *ids[i].Key < *ids[j].Key })
	for len(ids) > 0 {
		batch := ids[:min(len(ids), 1000)]
		ids = ids[len(batch):]
		out, err := s.u.api.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String(s.dst.Bucket), Delete: &types.Delete{Objects: batch, Quiet: aws.Bool(true)}})
		if err != nil {
			rep.Warn(fmt.Sprintf("the new index is written, but deleting the %d rewritten shard(s) failed: %v", len(batch), err))
			return nil
		}
		for _, e := range out.Errors {
			rep.Warn(fmt.Sprintf("deleting rewritten shard %s: %s", aws.ToString(e.Key), aws.ToString(e.Message)))
		}
		rep.ShardsRemoved += len(batch) - len(out.Errors)
		rep.Compaction.ShardsDeleted = rep.ShardsRemoved
	}
	return nil
}
