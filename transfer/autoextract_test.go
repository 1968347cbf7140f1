package transfer_test

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/airlift-io/airlift/internal/s3test"
	"github.com/airlift-io/airlift/transfer"
)

func writeFile(t *testing.T, root, rel string, data []byte) {
	t.Helper()
	p := filepath.Join(root, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestAutoExtract copies a tree of small files, a large one and shards
// marked keep-whole, and checks that the small files arrive as tar
// archives (each within the size cap, tagged for auto-extract, holding
// the files under the keys a plain copy would give) and everything else
// as objects of its own.
func TestAutoExtract(t *testing.T) {
	srv := s3test.Start(t, s3test.Options{})
	srv.CreateBucket(t, "axb")
	cli := srv.Client(t)
	src := t.TempDir()
	want := map[string][]byte{}
	for i := 0; i < 40; i++ {
		rel := fmt.Sprintf("imgs/%02d/img-%03d.jpg", i%4, i)
		data := bytes.Repeat([]byte{byte(i)}, 1000+i*37)
		writeFile(t, src, rel, data)
		want["ds/"+rel] = data
	}
	big := bytes.Repeat([]byte("L"), 3<<20)
	writeFile(t, src, "big.bin", big)
	shard := []byte("shard bytes")
	writeFile(t, src, "shards/train-0001.tfrecord", shard)

	stage := t.TempDir()
	keep, _ := transfer.NewFilter([]string{"*.tfrecord"}, nil)
	st := &transfer.Stats{}
	up, err := transfer.NewUploader(cli.S3, "axb", transfer.UploadOptions{
		Batch: &transfer.BatchOptions{MaxFileSize: 8 << 10, ArchiveSize: 16 << 10, KeepWhole: keep, Dir: stage},
	}, st)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := up.Copy(context.Background(), src, transfer.Location{Bucket: "axb", Prefix: "ds"})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Failed != 0 || rep.Files != 42 {
		t.Fatalf("report: %d files, %d failed; want 42, 0: %+v", rep.Files, rep.Failed, rep.Failures)
	}
	if left, _ := os.ReadDir(stage); len(left) != 0 {
		t.Errorf("staged archives left behind: %v", left)
	}

	var archives []string
	err = transfer.ListObjects(context.Background(), cli.S3, "axb", "ds/", transfer.ListOptions{}, func(o types.Object) error {
		k := aws.ToString(o.Key)
		switch {
		case strings.HasPrefix(k, "ds/airlift-batch-") && strings.HasSuffix(k, ".tar"):
			archives = append(archives, k)
			if aws.ToInt64(o.Size) > 16<<10 {
				t.Errorf("%s is %d bytes, over the 16 KiB cap", k, aws.ToInt64(o.Size))
			}
		case k == "ds/big.bin", k == "ds/shards/train-0001.tfrecord":
		default:
			t.Errorf("unexpected object %s", k)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(archives) < 3 {
		t.Fatalf("%d archives for ~60 KiB of small files at 16 KiB each", len(archives))
	}
	got := map[string][]byte{}
	for _, k := range archives {
		h, err := cli.S3.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String("axb"), Key: aws.String(k)})
		if err != nil {
			t.Fatal(err)
		}
		if h.Metadata[transfer.AutoExtractMeta] != "true" {
			t.Errorf("%s metadata %v, want %s=true", k, h.Metadata, transfer.AutoExtractMeta)
		}
		f, err := os.Open(srv.ObjectPath("axb", k))
		if err != nil {
			t.Fatal(err)
		}
		tr := tar.NewReader(f)
		for {
			hdr, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", k, err)
			}
			b, _ := io.ReadAll(tr)
			got["ds/"+hdr.Name] = b // extracted next to the archive
		}
		f.Close()
	}
	if len(got) != len(want) {
		t.Errorf("archives hold %d files, want %d", len(got), len(want))
	}
	for k, w := range want {
		if !bytes.Equal(got[k], w) {
			t.Errorf("%s: archived content differs or is missing", k)
		}
	}
	if b, _ := os.ReadFile(srv.ObjectPath("axb", "ds/shards/train-0001.tfrecord")); !bytes.Equal(b, shard) {
		t.Error("keep-whole shard not sent as its own object")
	}
}

func TestBatchOptionsLimits(t *testing.T) {
	for _, b := range []transfer.BatchOptions{
		{ArchiveSize: transfer.MaxArchiveSize + 1},
		{MaxFileSize: 1 << 20, ArchiveSize: 1 << 20},
		{MaxFileSize: 65 << 20},
	} {
		if _, err := transfer.NewUploader(nil, "b", transfer.UploadOptions{Batch: &b}, nil); err == nil {
			t.Errorf("%+v accepted", b)
		}
	}
}
