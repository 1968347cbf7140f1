package transfer

import (
	"context"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/airlift-io/airlift/checksum"
)

// ManifestDir is where run manifests live, below the destination prefix.
const ManifestDir = ".airlift/manifests/"

// ManifestPrefix returns the key prefix of the manifests for dst.
func ManifestPrefix(dst Location) string {
	p := dst.Prefix
	if p != "" && !strings.HasSuffix(p, "/") {
		p += "/"
	}
	return p + ManifestDir
}

// manifestSink streams entries to a temporary file (so a million-file run
// holds none of them in memory) and uploads it at the end.
type manifestSink struct {
	mu    sync.Mutex
	f     *os.File
	w     *checksum.ManifestWriter
	runID string
	err   error
}

func newManifestSink(runID, src string, dst Location) (*manifestSink, error) {
	f, err := os.CreateTemp("", "airlift-manifest-*.jsonl.zst")
	if err != nil {
		return nil, err
	}
	w, err := checksum.NewManifestWriter(f, checksum.ManifestHeader{RunID: runID, Created: time.Now().UTC(), Source: src, Dest: dst.String()})
	if err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, err
	}
	return &manifestSink{f: f, w: w, runID: runID}, nil
}

func (m *manifestSink) add(e checksum.ManifestEntry) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.w.Add(e); err != nil && m.err == nil {
		m.err = err
	}
}

func (m *manifestSink) upload(ctx context.Context, api S3API, dst Location) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return "", m.err
	}
	if err := m.w.Close(); err != nil {
		return "", err
	}
	fi, err := m.f.Stat()
	if err != nil {
		return "", err
	}
	if _, err := m.f.Seek(0, 0); err != nil {
		return "", err
	}
	key := ManifestPrefix(dst) + m.runID + ".jsonl.zst"
	_, err = api.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(dst.Bucket), Key: aws.String(key), Body: m.f,
		ContentLength: aws.Int64(fi.Size()), ContentType: aws.String("application/zstd"),
	})
	return key, err
}

func (m *manifestSink) discard() {
	m.f.Close()
	os.Remove(m.f.Name())
}
