package transfer

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/airlift-io/airlift/internal/outcome"
)

// AutoExtractMeta is the user metadata that tells a Snowball Edge import
// to expand a tar archive into the objects it holds.
const AutoExtractMeta = "snowball-auto-extract"

// MaxArchiveSize is the largest archive a Snowball Edge auto-extracts.
const MaxArchiveSize = 100_000_000_000

// BatchOptions turn many small files into tar archives that a Snowball
// Edge expands on import (--auto-extract): one object per archive instead
// of one per file is what makes small files fast on the device. Each
// archive sits in the destination prefix and holds the files under their
// path relative to it, so the import yields the same keys a plain copy
// would.
type BatchOptions struct {
	// MaxFileSize: files smaller than this go into archives; 0 = 1 MiB.
	MaxFileSize int64
	// ArchiveSize: an archive is closed before it would grow past this;
	// 0 = 1 GiB; at most MaxArchiveSize.
	ArchiveSize int64
	// KeepWhole selects files that are always sent as objects of their
	// own (shards a training job reads by name); nil = none.
	KeepWhole *Filter
	// Dir is where archives are staged before upload; "" = os.TempDir().
	Dir string
}

func (b *BatchOptions) check() error {
	if b.MaxFileSize == 0 {
		b.MaxFileSize = 1 << 20
	}
	if b.ArchiveSize == 0 {
		b.ArchiveSize = 1 << 30
	}
	if b.MaxFileSize < 0 || b.MaxFileSize > 64<<20 {
		return outcome.BadOption("MaxFileSize", "{MaxFileSize} must be between 1 byte and 64 MiB")
	}
	if b.ArchiveSize > MaxArchiveSize {
		return outcome.BadOption("ArchiveSize", "{ArchiveSize} may be at most 100 GB, Snowball's limit for auto-extract")
	}
	if b.ArchiveSize < b.MaxFileSize+4096 {
		return outcome.BadOption("ArchiveSize", "{ArchiveSize} must be larger than {MaxFileSize}")
	}
	return nil
}

// keepWhole reports whether e travels as its own object.
func (b *BatchOptions) keepWhole(e Entry) bool {
	if e.Err != nil || e.Skip != "" || e.Size >= b.MaxFileSize || !e.Mode.IsRegular() {
		return true
	}
	return b.KeepWhole != nil && !b.KeepWhole.Empty() && b.KeepWhole.Match(e.Rel)
}

// tarOverhead bounds what tar adds to one member: a header block, a PAX
// header (for long or non-ASCII names) and padding.
const tarOverhead = 3 * 512

// batcher stages small files into the current archive and hands each
// full archive to send as one job.
type batcher struct {
	u      *Uploader
	dst    Location
	base   string // key prefix the archive sits in; members are relative to it
	runID  string
	dryRun bool

	n     int // archives started
	f     *os.File
	tw    *tar.Writer
	size  int64 // bytes the archive will take, estimated from above
	files int
	bytes int64
}

func newBatcher(u *Uploader, dst Location, runID string) (*batcher, error) {
	k, err := KeyFor(dst, "x", true)
	if err != nil {
		return nil, err
	}
	return &batcher{u: u, dst: dst, base: strings.TrimSuffix(k, "x"), runID: runID, dryRun: u.o.DryRun}, nil
}

func (b *batcher) key() string {
	return fmt.Sprintf("%sairlift-batch-%s-%04d.tar", b.base, b.runID, b.n)
}

// add puts e into the current archive, first sending the archive if e
// would overflow it. A file that cannot be read is sent as a failed job.
func (b *batcher) add(ctx context.Context, e Entry, key string, send func(Job) error) error {
	need := tarOverhead + (e.Size+511)/512*512
	if b.files > 0 && b.size+need+1024 > b.u.o.Batch.ArchiveSize {
		if err := b.flush(send); err != nil {
			return err
		}
	}
	if b.files == 0 {
		b.n++
		b.size = 0
		if !b.dryRun {
			f, err := os.CreateTemp(b.u.o.Batch.Dir, "airlift-batch-*.tar")
			if err != nil {
				return &FatalError{Reason: "cannot stage an auto-extract archive (set --batch-dir)", Err: err}
			}
			b.f, b.tw = f, tar.NewWriter(f)
		}
	}
	if !b.dryRun {
		data, err := readSmall(e)
		if err != nil {
			e.Err = err
			return send(Job{Entry: e, Key: key})
		}
		hdr := &tar.Header{Typeflag: tar.TypeReg, Name: strings.TrimPrefix(key, b.base), Size: int64(len(data)),
			Mode: int64(e.Mode.Perm()), ModTime: e.ModTime}
		if err := b.tw.WriteHeader(hdr); err != nil {
			return &FatalError{Reason: "writing an auto-extract archive", Err: err}
		}
		if _, err := b.tw.Write(data); err != nil {
			return &FatalError{Reason: "writing an auto-extract archive", Err: err}
		}
	}
	b.files++
	b.bytes += e.Size
	b.size += need
	return nil
}

// flush closes the current archive and sends it as one job; the staged
// file is removed once the job is done with it.
func (b *batcher) flush(send func(Job) error) error {
	if b.files == 0 {
		return nil
	}
	j := Job{Key: b.key(), Files: b.files, Metadata: map[string]string{AutoExtractMeta: "true"}}
	j.Entry = Entry{Path: fmt.Sprintf("(%d files)", b.files), Rel: j.Key, Size: b.size + 1024, Mode: 0o644}
	b.files, b.bytes = 0, 0
	if !b.dryRun {
		f, tw := b.f, b.tw
		b.f, b.tw = nil, nil
		err := tw.Close()
		if err == nil {
			err = f.Close()
		} else {
			f.Close()
		}
		if err != nil {
			os.Remove(f.Name())
			return &FatalError{Reason: "writing an auto-extract archive", Err: err}
		}
		fi, err := os.Stat(f.Name())
		if err != nil {
			os.Remove(f.Name())
			return &FatalError{Reason: "staged archive vanished", Err: err}
		}
		j.Entry.Path, j.Entry.Size, j.Entry.ModTime, j.Entry.Mode = f.Name(), fi.Size(), fi.ModTime(), fi.Mode()
		name := f.Name()
		j.Done = func() { os.Remove(name) }
	}
	if err := send(j); err != nil {
		if j.Done != nil {
			j.Done()
		}
		return err
	}
	return nil
}

// discard removes an archive that will not be sent.
func (b *batcher) discard() {
	if b.f != nil {
		b.f.Close()
		os.Remove(b.f.Name())
		b.f, b.tw = nil, nil
	}
}

// readSmall reads a small file whole, so that a file changing under us
// fails alone instead of leaving a torn member in the archive.
func readSmall(e Entry) ([]byte, error) {
	f, err := os.Open(e.Path)
	if err != nil {
		return nil, unwrapPathError(err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	data := make([]byte, fi.Size())
	if _, err := io.ReadFull(f, data); err != nil {
		return nil, readErrOf(err)
	}
	if err := unchanged(f, fi); err != nil {
		return nil, err
	}
	return data, nil
}

// copyBatched is Copy for a directory with --auto-extract.
func (u *Uploader) copyBatched(ctx context.Context, src string, dst Location) (*Report, error) {
	var b *batcher
	return u.run(ctx, src, dst, nil, func(ctx context.Context, send func(Job) error) error { // CopyFrom commits the journal
		var err error
		if b, err = newBatcher(u, dst, u.report.RunID); err != nil {
			return err
		}
		defer b.discard()
		err = Walk(ctx, src, u.o.Walk, func(e Entry) error {
			u.Stats.FilesFound.Add(1)
			u.Stats.BytesFound.Add(e.Size)
			key := ""
			if e.Err == nil && e.Skip == "" {
				key, e.Err = KeyFor(dst, e.Rel, true)
			}
			if u.o.Batch.keepWhole(e) {
				return send(Job{Entry: e, Key: key})
			}
			return b.add(ctx, e, key, send)
		})
		if err != nil {
			return err
		}
		return b.flush(send)
	})
}

// unchanged checks that the open file still has the size and mtime it had
// when we opened it, and that no byte follows the ones we read.
func unchanged(f *os.File, before os.FileInfo) error {
	var one [1]byte
	if n, _ := f.Read(one[:]); n > 0 {
		return fmt.Errorf("grew while being read: %w", ErrChanged)
	}
	after, err := f.Stat()
	if err != nil {
		return err
	}
	if after.Size() != before.Size() || !after.ModTime().Equal(before.ModTime()) {
		return ErrChanged
	}
	return nil
}
