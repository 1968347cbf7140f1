package transfer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/klauspost/compress/zstd"

	"github.com/airlift-io/airlift/checksum"
)

// A compressed shard (.tar.zst) is the tar of an uncompressed one with
// every member (its header, data and padding) compressed as a zstd frame
// of its own, and the trailer as one more. Concatenated frames are one
// zstd stream, so `zstd -dc` (or any zstd reader) yields the tar; and a
// member's frame can be fetched and decompressed alone, so reading one
// member stays one ranged GET. The frames are produced once, while the
// shard is sent (see streamReader): the multipart upload is planned on an
// upper bound of the shard's size, and each frame's place is recorded as
// it is made. A resumed shard is produced again the same way, to the same
// bytes, so that its parts already on the server are recognised.

// frameChunk is how much of a member goes into the encoder at a time;
// fixed, so that a shard produced again yields the same bytes.
const frameChunk = 64 << 10

// newFrameEncoder returns the encoder of shard frames: one goroutine and a
// 1 MiB window keep its memory small and its output deterministic.
func newFrameEncoder() *zstd.Encoder {
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1), zstd.WithWindowSize(1<<20),
		zstd.WithEncoderLevel(zstd.SpeedDefault), zstd.WithEncoderCRC(true))
	if err != nil {
		panic(err) // only for invalid options, which are constant
	}
	return enc
}

// frameStream produces one member's frame, front to back, and the BLAKE3
// of the member's data on the way.
type frameStream struct {
	enc   *zstd.Encoder
	out   bytes.Buffer
	chunk []byte

	src  io.Reader
	f    *os.File
	data *countingReader
	want int64 // data bytes the walk saw
	h    *checksum.Hasher
	eof  bool // the encoder has its whole input
}

func newFrameStream() *frameStream {
	return &frameStream{enc: newFrameEncoder(), chunk: make([]byte, frameChunk), h: checksum.NewHasher()}
}

// start begins member m's frame (its file below root), or the trailer's
// (m nil).
func (s *frameStream) start(root string, m *shardMember) error {
	s.close()
	s.eof = false
	s.out.Reset()
	s.h.Reset()
	s.enc.Reset(&s.out)
	if m == nil {
		s.src, s.data, s.want = bytes.NewReader(make([]byte, tarTrailer)), nil, 0
		return nil
	}
	e := m.entry(root)
	hdr, err := tarHeader(e)
	if err != nil {
		return err
	}
	f, err := openRead(e.Path)
	if err != nil {
		return unwrapPathError(err)
	}
	fi, err := f.Stat()
	if err == nil && (fi.Size() != e.Size || !fi.ModTime().Equal(e.ModTime)) {
		err = fmt.Errorf("changed since the walk: %w", ErrChanged)
	}
	if err != nil {
		f.Close()
		return err
	}
	s.f, s.want = f, e.Size
	s.data = &countingReader{r: io.TeeReader(io.LimitReader(f, e.Size), s.h)}
	s.src = io.MultiReader(bytes.NewReader(hdr), s.data, bytes.NewReader(make([]byte, padded(e.Size)-e.Size)))
	return nil
}

func (s *frameStream) close() {
	if s.f != nil {
		s.f.Close()
		s.f = nil
	}
}

// take hands out the next len(p) bytes of the frame (or fewer, at its
// end: n says how many).
func (s *frameStream) take(p []byte) (int, error) {
	for s.out.Len() < len(p) && !s.eof {
		n, err := io.ReadFull(s.src, s.chunk)
		if n > 0 {
			if _, werr := s.enc.Write(s.chunk[:n]); werr != nil {
				return 0, werr
			}
		}
		switch {
		case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
			if cerr := s.enc.Close(); cerr != nil {
				return 0, cerr
			}
			s.eof = true
			s.close()
			if s.data != nil && s.data.n != s.want {
				return 0, fmt.Errorf("shrank while being read: %w", ErrChanged)
			}
		case err != nil:
			return 0, unwrapPathError(err)
		}
	}
	n, _ := s.out.Read(p)
	return n, nil
}

// done says the frame has been handed out whole.
func (s *frameStream) done() bool { return s.eof && s.out.Len() == 0 }

// zshardReader produces a compressed shard front to back, each member's
// frame as it comes, and records where each frame starts and how long it
// is (for the index) as it goes: a frame's size is known only once it is
// made, so the shard's size is known only at its end.
type zshardReader struct {
	*shardReader
	zi   int   // the frame being produced: member zi's, the trailer's at len(members)
	zoff int64 // bytes produced so far
}

// newZshardReader: l's frames are produced from the start.
func newZshardReader(l *shardLayout) *zshardReader {
	return &zshardReader{shardReader: newShardReader(l), zi: -1}
}

func (r *zshardReader) ReadAt(context.Context, []byte, int64) error {
	return errors.New("a compressed shard is produced in order (ReadNext), never read at an offset")
}

func (r *zshardReader) ReadNext(ctx context.Context, p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	l := r.l
	if r.fs == nil {
		r.fs = newFrameStream()
	}
	n := 0
	for n < len(p) && r.zi <= len(l.members) {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		if r.zi < 0 || r.fs.done() {
			if err := r.nextFrame(); err != nil {
				return n, err
			}
			continue
		}
		k, err := r.fs.take(p[n:])
		if err != nil {
			return n, frameErr(l, r.zi, err)
		}
		n += k
		r.zoff += int64(k)
	}
	return n, nil
}

// nextFrame ends the frame produced (its size and its member's BLAKE3
// recorded) and starts the next one.
func (r *zshardReader) nextFrame() error {
	l := r.l
	if r.zi >= 0 && r.zi < len(l.members) {
		m := &l.members[r.zi]
		m.zsize = r.zoff - m.zstart
		r.sums[r.zi] = r.fs.h.Hex()
	}
	r.zi++
	switch {
	case r.zi < len(l.members):
		m := &l.members[r.zi]
		m.zstart = r.zoff
		if err := r.fs.start(l.root, m); err != nil {
			return frameErr(l, r.zi, err)
		}
	case r.zi == len(l.members):
		return r.fs.start(l.root, nil) // the trailer
	default:
		l.zsize = r.zoff
	}
	return nil
}

// frameErr names the member whose frame could not be produced.
func frameErr(l *shardLayout, i int, err error) error {
	if i >= len(l.members) {
		return fmt.Errorf("%s: its trailer: %w", l.name, err)
	}
	return fmt.Errorf("%s: %w", l.members[i].rel, err)
}
