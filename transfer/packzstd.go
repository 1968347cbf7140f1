package transfer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"

	"github.com/klauspost/compress/zstd"

	"github.com/airlift-io/airlift/checksum"
)

// A compressed shard (.tar.zst) is the tar of an uncompressed one with
// every member (its header, data and padding) compressed as a zstd frame
// of its own, and the trailer as one more. Concatenated frames are one
// zstd stream, so `zstd -dc` (or any zstd reader) yields the tar; and a
// member's frame can be fetched and decompressed alone, so reading one
// member stays one ranged GET. The frames are produced twice, the same
// way: once while planning, to learn their sizes (a multipart upload of a
// shard is planned before its first byte is read), once while sending.

// frameChunk is how much of a member goes into the encoder at a time;
// the same in both passes, so that both produce the same bytes.
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
	skip  []byte

	i       int // member, -1: none yet
	src     io.Reader
	f       *os.File
	data    *countingReader
	want    int64 // data bytes the walk saw
	h       *checksum.Hasher
	emitted int64 // frame bytes taken so far
	eof     bool
}

func newFrameStream() *frameStream {
	return &frameStream{enc: newFrameEncoder(), chunk: make([]byte, frameChunk), skip: make([]byte, frameChunk), i: -1, h: checksum.NewHasher()}
}

// start begins member i's frame (m, its file below root), or the
// trailer's (m nil).
func (s *frameStream) start(root string, i int, m *shardMember) error {
	s.close()
	s.i, s.emitted, s.eof = i, 0, false
	s.out.Reset()
	s.h.Reset()
	s.enc.Reset(&s.out)
	if m == nil {
		s.src, s.want = bytes.NewReader(make([]byte, tarTrailer)), 0
		return nil
	}
	e := m.entry(root)
	hdr, err := tarHeader(e)
	if err != nil {
		return err
	}
	f, err := os.Open(e.Path)
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
	s.emitted += int64(n)
	return n, nil
}

// frameSize compresses member m (nil: the trailer) once, to plan the
// shard; the trailer's frame is returned too, since it is the same for
// every shard.
func (s *frameStream) frameSize(root string, m *shardMember) (int64, []byte, error) {
	if err := s.start(root, -1, m); err != nil {
		return 0, nil, err
	}
	defer s.close()
	var all []byte
	buf := make([]byte, frameChunk)
	for {
		n, err := s.take(buf)
		if err != nil {
			return 0, nil, err
		}
		if m == nil {
			all = append(all, buf[:n]...)
		}
		if n < len(buf) && s.eof && s.out.Len() == 0 {
			return s.emitted, all, nil
		}
	}
}

// readFrames is ReadAt for a compressed shard. Frames are produced in
// order; a read that goes back (a retried part) starts the frame again.
func (r *shardReader) readFrames(ctx context.Context, p []byte, off int64) error {
	l := r.l
	if r.fs == nil {
		r.fs = newFrameStream()
	}
	ms := l.members
	i := sort.Search(len(ms), func(i int) bool { return ms[i].zstart+ms[i].zsize > off })
	for len(p) > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		if i >= len(ms) {
			tstart := l.zsize - int64(len(l.ztrailer))
			if off < tstart || off+int64(len(p)) > l.zsize {
				return fmt.Errorf("read past the end of shard %s", l.name)
			}
			copy(p, l.ztrailer[off-tstart:])
			return nil
		}
		m := &ms[i]
		rel := off - m.zstart
		if r.fs.i != i || r.fs.emitted > rel {
			if err := r.fs.start(l.root, i, m); err != nil {
				return frameErr(m, err)
			}
		}
		for r.fs.emitted < rel { // skip to where this read starts
			if n, err := r.fs.take(r.fs.skip[:min(rel-r.fs.emitted, frameChunk)]); err != nil || n == 0 {
				return frameErr(m, err)
			}
		}
		want := min(int64(len(p)), m.zsize-rel)
		n, err := r.fs.take(p[:want])
		if err != nil || int64(n) != want {
			return frameErr(m, err)
		}
		p, off = p[n:], off+int64(n)
		if off == m.zstart+m.zsize {
			if !r.fs.eof || r.fs.out.Len() != 0 {
				return frameErr(m, nil)
			}
			r.sums[i] = r.fs.h.Hex()
			i++
		}
	}
	return nil
}

// frameErr says why a member's frame could not be produced as planned: a
// frame of another length means other bytes than those planned.
func frameErr(m *shardMember, err error) error {
	if err == nil {
		err = fmt.Errorf("its compressed frame differs from the one planned: %w", ErrChanged)
	}
	return fmt.Errorf("%s: %w", m.rel, err)
}
