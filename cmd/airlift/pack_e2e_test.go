package main

// copy --pack end to end: shards checked with readers airlift does not
// share (Python's tarfile through the webdataset package, reading the
// shards from the server through the aws CLI as a training job does; b3sum;
// ranged GETs at the offsets the index gives), then the dataset restored,
// verified and read member by member with airlift itself.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand"
	"net/http"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/klauspost/compress/zstd"

	"github.com/airlift-io/airlift/internal/s3test"
)

// packTree is a WebDataset-shaped tree: samples of an image and its
// annotation side by side in several folders, a name too long for ustar,
// a non-ASCII name, an empty file, a private file, and one file larger
// than the shard size (which goes as an object of its own). mtimes carry
// nanoseconds, which tar headers cannot.
func packTree(t *testing.T, samples int) (root string, packed []string) {
	files := map[string]int{"big/huge.bin": 9<<20 + 17}
	rng := rand.New(rand.NewSource(15))
	for i := 0; i < samples; i++ {
		base := fmt.Sprintf("class%02d/img_%04d", i%7, i)
		files[base+".jpg"] = 1000 + rng.Intn(90_000)
		files[base+".json"] = 10 + rng.Intn(300)
	}
	long := "long/" + strings.Repeat("very-long-folder-name/", 6) + "sample.txt"
	files[long] = 333
	files["unicode/数据-café.txt"] = 44
	files["empty/nothing.txt"] = 0
	root = tree(t, files)
	for rel := range files {
		if rel != "big/huge.bin" {
			packed = append(packed, rel)
		}
		mt := time.Unix(1_700_000_000+int64(rng.Intn(1e6)), int64(rng.Intn(1e9)))
		if err := os.Chtimes(filepath.Join(root, filepath.FromSlash(rel)), mt, mt); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(filepath.Join(root, "class00/img_0000.json"), 0o600); err != nil {
		t.Fatal(err)
	}
	sort.Strings(packed)
	return root, packed
}

// indexLine is a member line of the index, decoded here without airlift's
// code: the format is what the README documents.
type indexLine struct {
	Path    string `json:"path"`
	Shard   string `json:"shard"`
	Object  string `json:"object"`
	Offset  int64  `json:"offset"`
	Size    int64  `json:"size"`
	MTimeNS int64  `json:"mtime_ns"`
	Mode    uint32 `json:"mode"`
	BLAKE3  string `json:"blake3"`
	ZOffset int64  `json:"zoffset"`
	ZSize   int64  `json:"zsize"`
	ZSkip   int64  `json:"zskip"`
	State   string `json:"state"`
}

type indexHead struct {
	Format string `json:"format"`
	Shards []struct {
		URL    string `json:"url"`
		Size   int64  `json:"filesize"`
		BLAKE3 string `json:"blake3"`
	} `json:"shards"`
}

func readIndex(t *testing.T, cli *s3.Client, bucket, key string) (indexHead, []indexLine) {
	t.Helper()
	out, err := cli.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatal(err)
	}
	defer out.Body.Close()
	zr, err := zstd.NewReader(out.Body)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	sc := bufio.NewScanner(zr)
	var h indexHead
	var lines []indexLine
	for sc.Scan() {
		if h.Format == "" {
			if err := json.Unmarshal(sc.Bytes(), &h); err != nil {
				t.Fatal(err)
			}
			continue
		}
		var l indexLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, l)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return h, lines
}

// webdatasetPython returns the interpreter and PYTHONPATH that import the
// webdataset package from the shared tools folder (../shared next to the
// repository, or AIRLIFT_SHARED_TOOLS), failing or skipping as Require
// does when it cannot.
func webdatasetPython(t *testing.T) (python, pythonPath string) {
	t.Helper()
	dir := os.Getenv("AIRLIFT_SHARED_TOOLS")
	if dir == "" {
		wd, _ := os.Getwd()
		dir = filepath.Join(wd, "..", "..", "..", "shared", "tools") // cmd/airlift -> repo -> its parent
	}
	pythonPath = filepath.Join(dir, "webdataset")
	python = "/usr/bin/python3"
	cmd := exec.Command(python, "-c", "import webdataset, numpy, yaml, braceexpand")
	cmd.Env = append(os.Environ(), "PYTHONPATH="+pythonPath)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Logf("importing webdataset from %s: %v\n%s", pythonPath, err, out)
		s3test.Require(t, "the webdataset Python package (../shared/tools/webdataset, Debian python3-numpy python3-yaml python3-braceexpand; make tools)", "")
	}
	return python, pythonPath
}

func TestPackE2E(t *testing.T) {
	python, pyPath := webdatasetPython(t)
	s3test.AWSCLI(t)
	srv := s3test.Start(t, s3test.Options{})
	srv.CreateBucket(t, "packed")
	src, packed := packTree(t, 260)
	cli := srv.Client(t).S3
	ctx := context.Background()

	// copy DIR s3://packed/ds --pack: 6 MiB shards of 5 MiB parts, so every
	// full shard is a multipart upload fed while it is built.
	res := airlift(t, srv, "copy", src, "s3://packed/ds", "--pack", "--shard-size", "6MiB", "--part-size", "5MiB", "--json")
	wantCode(t, res, 0)
	var rep struct {
		Files  int64  `json:"files"`
		Index  string `json:"index"`
		Shards int    `json:"shards"`
	}
	if err := json.Unmarshal([]byte(res.stdout), &rep); err != nil {
		t.Fatalf("--json: %v\n%s", err, res.stdout)
	}
	if rep.Files != int64(len(packed)+1) || rep.Shards < 3 || !strings.HasPrefix(rep.Index, "s3://packed/ds/.airlift/index/") {
		t.Fatalf("report: %d files, %d shards, index %q; want %d files, at least 3 shards", rep.Files, rep.Shards, rep.Index, len(packed)+1)
	}

	// The bucket holds shards, the large file, shards.json and the index:
	// no object per small file.
	list, err := cli.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("packed"), Prefix: aws.String("ds/")})
	if err != nil {
		t.Fatal(err)
	}
	sizes := map[string]int64{}
	var shardKeys []string
	for _, o := range list.Contents {
		k := strings.TrimPrefix(aws.ToString(o.Key), "ds/")
		sizes[k] = aws.ToInt64(o.Size)
		switch {
		case strings.HasPrefix(k, "shard-") && strings.HasSuffix(k, ".tar"):
			shardKeys = append(shardKeys, k)
		case k == "shards.json", k == "big/huge.bin", strings.HasPrefix(k, ".airlift/index/") && strings.HasSuffix(k, ".jsonl.zst"):
		default:
			t.Errorf("unexpected object %s", k)
		}
	}
	if len(shardKeys) != rep.Shards || shardKeys[0] != "shard-000000.tar" {
		t.Fatalf("shards in the bucket: %v; report says %d", shardKeys, rep.Shards)
	}

	// shards.json is a wids shard index listing every shard with its size.
	var wids struct {
		Kind      string `json:"__kind__"`
		ShardList []struct {
			URL      string `json:"url"`
			NSamples int    `json:"nsamples"`
			FileSize int64  `json:"filesize"`
		} `json:"shardlist"`
	}
	if err := json.Unmarshal([]byte(srv.AWS(t, "s3", "cp", "s3://packed/ds/shards.json", "-")), &wids); err != nil {
		t.Fatal(err)
	}
	samples := map[string]bool{}
	for _, rel := range packed {
		dir, base := path.Split(rel)
		samples[dir+strings.SplitN(base, ".", 2)[0]] = true
	}
	nsamples := 0
	for i, s := range wids.ShardList {
		nsamples += s.NSamples
		if s.URL != shardKeys[i] || s.FileSize != sizes[s.URL] {
			t.Errorf("shards.json entry %d: %s %d bytes; bucket has %s %d bytes", i, s.URL, s.FileSize, shardKeys[i], sizes[shardKeys[i]])
		}
	}
	if wids.Kind != "wids-shard-index-v1" || len(wids.ShardList) != len(shardKeys) || nsamples != len(samples) {
		t.Errorf("shards.json: kind %q, %d shards, %d samples; want wids-shard-index-v1, %d, %d", wids.Kind, len(wids.ShardList), nsamples, len(shardKeys), len(samples))
	}

	// Each shard's BLAKE3 (b3sum over the bytes the aws CLI downloads) is
	// the one stored with the object and the one in the index.
	head, members := readIndex(t, cli, "packed", strings.TrimPrefix(rep.Index, "s3://packed/"))
	if head.Format != "airlift-pack-index-v1" || len(head.Shards) != len(shardKeys) {
		t.Fatalf("index header: %+v", head)
	}
	dl := t.TempDir()
	multipart := 0
	for i, sh := range head.Shards {
		p := filepath.Join(dl, sh.URL)
		srv.AWS(t, "s3", "cp", "--only-show-errors", "s3://packed/ds/"+sh.URL, p)
		sum := s3test.B3Sum(t, p)
		stored := headMeta(t, srv, "packed", "ds/"+sh.URL)["blake3"]
		if stored == "" {
			tags := srv.AWS(t, "s3api", "get-object-tagging", "--bucket", "packed", "--key", "ds/"+sh.URL, "--query", "TagSet[?Key=='airlift-blake3'].Value", "--output", "text")
			stored = strings.TrimSpace(tags)
			multipart++
		}
		if sum != sh.BLAKE3 || sum != stored || sh.URL != shardKeys[i] {
			t.Errorf("%s: b3sum %s, index %s, stored %s", sh.URL, sum, sh.BLAKE3, stored)
		}
	}
	if multipart == 0 {
		t.Errorf("no shard was a multipart upload; the test means to cover that")
	}

	// Every packed file is in the index once; its BLAKE3 is b3sum's and a
	// ranged GET at its offset returns exactly its bytes.
	want := s3test.B3SumTree(t, src)
	got := map[string]bool{}
	for _, m := range members {
		if m.Shard == "" {
			if m.Path != "big/huge.bin" || m.Object != "big/huge.bin" {
				t.Errorf("plain object in the index: %+v", m)
			}
			continue
		}
		got[m.Path] = true
		b, err := os.ReadFile(filepath.Join(src, filepath.FromSlash(m.Path)))
		if err != nil {
			t.Fatal(err)
		}
		if m.BLAKE3 != want[m.Path] || m.Size != int64(len(b)) {
			t.Errorf("%s: index says %d bytes, BLAKE3 %s; b3sum says %s of %d bytes", m.Path, m.Size, m.BLAKE3, want[m.Path], len(b))
		}
		fi, _ := os.Stat(filepath.Join(src, filepath.FromSlash(m.Path)))
		if m.MTimeNS != fi.ModTime().UnixNano() || os.FileMode(m.Mode) != fi.Mode().Perm() {
			t.Errorf("%s: index mtime %d mode %o; file %d %o", m.Path, m.MTimeNS, m.Mode, fi.ModTime().UnixNano(), fi.Mode().Perm())
		}
		if m.Size == 0 {
			continue
		}
		out, err := cli.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("packed"), Key: aws.String("ds/" + m.Shard),
			Range: aws.String(fmt.Sprintf("bytes=%d-%d", m.Offset, m.Offset+m.Size-1))})
		if err != nil {
			t.Fatalf("ranged GET of %s: %v", m.Path, err)
		}
		rb, err := io.ReadAll(out.Body)
		out.Body.Close()
		if err != nil || !bytes.Equal(rb, b) {
			t.Errorf("%s: ranged GET at %d returned %d bytes differing from the file (%v)", m.Path, m.Offset, len(rb), err)
		}
	}
	if len(got) != len(packed) {
		t.Errorf("index holds %d packed files, want %d", len(got), len(packed))
	}

	// The webdataset package reads every sample straight from the server.
	var urls []string
	for _, k := range shardKeys {
		urls = append(urls, fmt.Sprintf("pipe:aws --endpoint-url %s s3 cp s3://packed/ds/%s -", srv.URL, k))
	}
	py := exec.Command(python, append([]string{filepath.Join("..", "..", "testdata", "webdataset", "read_shards.py"), src}, urls...)...)
	py.Env = append(srv.Env(), "PYTHONPATH="+pyPath)
	var pyErr bytes.Buffer
	py.Stderr = &pyErr
	out, err := py.Output()
	var wds struct {
		Samples int        `json:"samples"`
		Files   int        `json:"files"`
		Seen    []string   `json:"seen"`
		Bad     [][]string `json:"bad"`
	}
	if jerr := json.Unmarshal(out, &wds); jerr != nil || err != nil {
		t.Fatalf("webdataset reader: %v / %v\n%s\n%s", err, jerr, out, pyErr.String())
	}
	sort.Strings(wds.Seen)
	// The empty file is a sample of its own with an empty field.
	if wds.Samples != len(samples) || strings.Join(wds.Seen, "\n") != strings.Join(packed, "\n") || len(wds.Bad) != 0 {
		t.Errorf("webdataset read %d samples, %d files (bad: %v); want %d samples, the %d packed files", wds.Samples, wds.Files, wds.Bad, len(samples), len(packed))
	}

	// copy s3://... DIR restores the tree: bytes, modes, mtimes.
	restore := filepath.Join(t.TempDir(), "restore")
	res = airlift(t, srv, "copy", "s3://packed/ds", restore)
	wantCode(t, res, 0)
	sameTree(t, src, restore)
	for _, rel := range append(packed, "big/huge.bin") {
		a, _ := os.Stat(filepath.Join(src, filepath.FromSlash(rel)))
		b, err := os.Stat(filepath.Join(restore, filepath.FromSlash(rel)))
		if err != nil {
			t.Fatal(err)
		}
		if rel != "big/huge.bin" && (a.Mode() != b.Mode() || !a.ModTime().Equal(b.ModTime())) {
			t.Errorf("%s restored with mode %v mtime %v; source %v %v", rel, b.Mode(), b.ModTime(), a.Mode(), a.ModTime())
		}
	}

	// cat reads one member through the index.
	res = airlift(t, srv, "cat", "s3://packed/ds/class03/img_0010.jpg")
	wantCode(t, res, 0)
	if b, _ := os.ReadFile(filepath.Join(src, "class03", "img_0010.jpg")); res.stdout != string(b) {
		t.Errorf("cat printed %d bytes, the file has %d", len(res.stdout), len(b))
	}
	wantCode(t, airlift(t, srv, "cat", "s3://packed/ds/class03/nope.jpg"), 1)

	// verify: equal, then a file rewritten with the same size differs
	// (fast, from the index; deep, from the shards read back).
	for _, deep := range []bool{false, true} {
		args := []string{"verify", src, "s3://packed/ds", "--json"}
		if deep {
			args = append(args, "--deep")
		}
		res = airlift(t, srv, args...)
		wantCode(t, res, 0)
		mustContain(t, "verify --json", res.stdout, fmt.Sprintf(`"equal": %d`, len(packed)+1))
	}
	victim := filepath.Join(restore, "class02", "img_0009.jpg")
	b, _ := os.ReadFile(victim)
	b[0] ^= 0xff
	if err := os.WriteFile(victim, b, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, deep := range []string{"", "--deep"} {
		args := []string{"verify", restore, "s3://packed/ds", "--json"}
		if deep != "" {
			args = append(args, deep)
		}
		res = airlift(t, srv, args...)
		wantCode(t, res, 1)
		mustContain(t, "verify "+deep, res.stdout, `"blake3_differs": 1`)
	}
}

// TestPackKillAndResume: a packing run killed part way (by the proxy's
// byte count) leaves shards done and one half sent; the next run skips the
// done ones, continues or aborts the half-sent upload, and writes the index.
// Nothing is left open, and the restored tree is the source. Compressed
// shards, whose size is learnt only as they are produced, resume the same
// way: produced again, their parts on the server are recognised, and the
// index finds every member's frame (cat reads one by a ranged GET).
func TestPackKillAndResume(t *testing.T) {
	for _, c := range []struct {
		name string
		args []string
	}{
		{"tar", nil},
		{"tar.zst", []string{"--compress", "zstd"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := newRig(t)
			src, packed := packTree(t, 1000)
			pack := append([]string{"--pack", "--shard-size", "12MiB", "--concurrency", "2"}, c.args...)
			args := r.copyArgs(src, "ds", pack...)
			var ru *proc
			started := make(chan struct{})
			r.px.set(nil, func(total int64) {
				if total >= 30<<20 {
					<-started
					ru.kill()
				}
			})
			ru = r.start(t, args...)
			close(started)
			res := ru.wait(t)
			if res.code != -int(syscall.SIGKILL) {
				t.Fatalf("the first run was not killed: exit %d\n%s", res.code, res.stderr)
			}
			firstSent := r.px.sent.Load()
			open := r.openUploads(t, "ds/")
			done := r.objectBytes(t, "ds/")
			if open == 0 || len(done) == 0 {
				t.Fatalf("the kill left %d shard(s) done (%d bytes) and %d half sent; the test means to cover both", len(done), sumOf(done), open)
			}
			r.px.set(nil, nil)
			res = r.copy(t, src, "ds", pack...)
			wantCode(t, res, 0)
			// Shards done are not sent again, nor the parts of the half-sent ones
			// the server holds: the second run sends at most what was missing.
			all := r.objectBytes(t, "ds/")
			var shards int64
			for k, n := range all {
				if strings.Contains(k, "/shard-") {
					shards += n
				}
			}
			if sent := r.px.sent.Load(); sent > shards-sumOf(done)+1<<20 {
				t.Errorf("resumed run sent %d bytes; %d of the shards' %d were there already", sent, sumOf(done), shards)
			}
			t.Logf("killed after %d bytes, %d shard(s) done and %d open; the next run sent %d bytes (%d again) of %d in shards",
				firstSent, len(done), open, r.px.sent.Load(), r.px.resent.Load(), shards)
			r.noOpenUploads(t, "ds/")
			restore := t.TempDir()
			res = airliftEnv(t, r.srv, nil, "copy", "s3://"+r.bucket+"/ds", restore)
			wantCode(t, res, 0)
			sameTree(t, src, restore)
			for _, rel := range []string{packed[0], packed[len(packed)/2], packed[len(packed)-1]} {
				res = airliftEnv(t, r.srv, nil, "cat", "s3://"+r.bucket+"/ds/"+rel)
				if b, _ := os.ReadFile(filepath.Join(src, filepath.FromSlash(rel))); res.code != 0 || res.stdout != string(b) {
					t.Errorf("cat %s: exit %d, %d bytes, want %d\n%s", rel, res.code, len(res.stdout), len(b), res.stderr)
				}
			}
		})
	}
}

// TestPlanAdvisesPack: plan of a dataset of small files counts the
// requests with and without packing and recommends --pack; a dataset of
// large files gets no such advice.
func TestPlanAdvisesPack(t *testing.T) {
	src, _ := packTree(t, 200)
	big := tree(t, map[string]int{"a.bin": 3 << 20, "b.bin": 2 << 20})
	for _, c := range []struct {
		src  string
		want bool
	}{{src, true}, {big, false}} {
		res := airlift(t, nil, "plan", c.src, "--json", "--sample", "0")
		wantCode(t, res, 0)
		var p struct {
			Estimate struct {
				Packing *struct {
					Requests       int64   `json:"requests"`
					PackedRequests int64   `json:"packed_requests"`
					CostUSD        float64 `json:"request_cost_usd"`
					PackedCostUSD  float64 `json:"packed_request_cost_usd"`
					Recommended    bool    `json:"recommended"`
				} `json:"packing"`
			} `json:"estimate"`
		}
		if err := json.Unmarshal([]byte(res.stdout), &p); err != nil {
			t.Fatal(err)
		}
		pk := p.Estimate.Packing
		if (pk != nil) != c.want {
			t.Fatalf("packing advice %+v, want one: %v", pk, c.want)
		}
		if pk != nil && (!pk.Recommended || pk.Requests < 403 || pk.PackedRequests >= 10 || pk.PackedCostUSD >= pk.CostUSD) {
			t.Errorf("packing advice %+v; want over 403 requests unpacked, a few packed", pk)
		}
	}
	res := airlift(t, nil, "plan", src)
	mustContain(t, "plan", res.stdout, "copy --pack recommended")
}

// TestPackCompressedE2E: --compress zstd writes .tar.zst shards that the
// zstd CLI turns back into tars the webdataset package reads; each
// member's frame, fetched alone by a ranged GET at the index's zoffset,
// decompresses (zstd CLI) to its header and data; the dataset restores,
// verifies deep and cats. --compress auto compresses text and leaves
// random bytes alone.
func TestPackCompressedE2E(t *testing.T) {
	python, pyPath := webdatasetPython(t)
	zstdCLI, _ := exec.LookPath("zstd")
	s3test.Require(t, "the zstd CLI (Debian zstd)", zstdCLI)
	srv := s3test.Start(t, s3test.Options{})
	srv.CreateBucket(t, "packed")
	cli := srv.Client(t).S3
	src := t.TempDir()
	words := strings.Fields("tensor model train loss epoch batch gradient label image text token")
	rng := rand.New(rand.NewSource(5))
	var packed []string
	for i := 0; i < 300; i++ {
		var b strings.Builder
		for j := rng.Intn(12000); j >= 0; j-- {
			b.WriteString(words[rng.Intn(len(words))] + " ")
		}
		for ext, body := range map[string]string{"txt": b.String(), "json": fmt.Sprintf(`{"id": %d, "label": %q}`, i, words[i%len(words)])} {
			rel := fmt.Sprintf("shard%d/doc_%04d.%s", i%3, i, ext)
			packed = append(packed, rel)
			p := filepath.Join(src, filepath.FromSlash(rel))
			os.MkdirAll(filepath.Dir(p), 0o755)
			if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	sort.Strings(packed)
	res := airlift(t, srv, "copy", src, "s3://packed/txt", "--pack", "--compress", "auto", "--shard-size", "1MiB", "--json")
	wantCode(t, res, 0)
	mustContain(t, "stderr", res.stderr, "shards compressed (.tar.zst)")
	var rep struct {
		Index  string `json:"index"`
		Shards int    `json:"shards"`
	}
	if err := json.Unmarshal([]byte(res.stdout), &rep); err != nil || rep.Shards < 2 {
		t.Fatalf("report %+v (%v)\n%s", rep, err, res.stdout)
	}
	head, members := readIndex(t, cli, "packed", strings.TrimPrefix(rep.Index, "s3://packed/"))
	var urls []string
	for i, sh := range head.Shards {
		if sh.URL != fmt.Sprintf("shard-%06d.tar.zst", i) {
			t.Fatalf("shard %d is %s", i, sh.URL)
		}
		urls = append(urls, fmt.Sprintf("pipe:aws --endpoint-url %s s3 cp s3://packed/txt/%s - | zstd -dc", srv.URL, sh.URL))
	}
	py := exec.Command(python, append([]string{filepath.Join("..", "..", "testdata", "webdataset", "read_shards.py"), src}, urls...)...)
	py.Env = append(srv.Env(), "PYTHONPATH="+pyPath)
	var pyErr bytes.Buffer
	py.Stderr = &pyErr
	out, err := py.Output()
	var wds struct {
		Samples int        `json:"samples"`
		Seen    []string   `json:"seen"`
		Bad     [][]string `json:"bad"`
	}
	if jerr := json.Unmarshal(out, &wds); jerr != nil || err != nil {
		t.Fatalf("webdataset reader: %v / %v\n%s\n%s", err, jerr, out, pyErr.String())
	}
	sort.Strings(wds.Seen)
	if wds.Samples != 300 || strings.Join(wds.Seen, "\n") != strings.Join(packed, "\n") || len(wds.Bad) != 0 {
		t.Errorf("webdataset read %d samples (bad: %v); want 300, every file", wds.Samples, wds.Bad)
	}
	// Each member's frame alone: one ranged GET, the zstd CLI.
	for i, m := range members {
		if i%7 != 0 {
			continue
		}
		o, err := cli.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String("packed"), Key: aws.String("txt/" + m.Shard),
			Range: aws.String(fmt.Sprintf("bytes=%d-%d", m.ZOffset, m.ZOffset+m.ZSize-1))})
		if err != nil {
			t.Fatal(err)
		}
		dec := exec.Command(zstdCLI, "-dc")
		dec.Stdin = o.Body
		frame, err := dec.Output()
		o.Body.Close()
		want, _ := os.ReadFile(filepath.Join(src, filepath.FromSlash(m.Path)))
		if err != nil || int64(len(frame)) < m.ZSkip+m.Size || !bytes.Equal(frame[m.ZSkip:m.ZSkip+m.Size], want) {
			t.Errorf("%s: its frame (%d bytes at %d) does not decompress to its data (%v)", m.Path, m.ZSize, m.ZOffset, err)
		}
	}
	restore := filepath.Join(t.TempDir(), "r")
	wantCode(t, airlift(t, srv, "copy", "s3://packed/txt", restore), 0)
	sameTree(t, src, restore)
	wantCode(t, airlift(t, srv, "verify", src, "s3://packed/txt", "--deep"), 0)
	res = airlift(t, srv, "cat", "s3://packed/txt/shard1/doc_0004.txt")
	if b, _ := os.ReadFile(filepath.Join(src, "shard1", "doc_0004.txt")); res.code != 0 || res.stdout != string(b) {
		t.Errorf("cat: exit %d, %d bytes, want %d\n%s", res.code, len(res.stdout), len(b), res.stderr)
	}

	// Random bytes do not compress: auto leaves the shards .tar.
	res = airlift(t, srv, "copy", tree(t, map[string]int{"a.bin": 100000, "b.bin": 5000}), "s3://packed/rnd", "--pack", "--compress", "auto")
	wantCode(t, res, 0)
	mustContain(t, "stderr", res.stderr, "left uncompressed (.tar)")
	mustContain(t, "listing", srv.AWS(t, "s3", "ls", "s3://packed/rnd/"), "shard-000000.tar\n")
}

// objectBytes lists the objects under prefix: key -> size.
func (r *rig) objectBytes(t *testing.T, prefix string) map[string]int64 {
	t.Helper()
	out, err := r.s3.ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: aws.String(r.bucket), Prefix: aws.String(prefix)})
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]int64{}
	for _, o := range out.Contents {
		m[aws.ToString(o.Key)] = aws.ToInt64(o.Size)
	}
	return m
}

func sumOf(m map[string]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}

// TestPackSyncE2E: sync --pack sends only new and changed files, into a
// shard numbered after the last; the new index marks the replaced member
// superseded and (with --delete) the removed one deleted; the prefix then
// restores, verifies and cats as the folder is now. A sync with nothing
// changed writes nothing. compact then rewrites the shard with dead
// members and deletes it, and the dataset still restores whole.
func TestPackSyncE2E(t *testing.T) {
	srv := s3test.Start(t, s3test.Options{})
	srv.CreateBucket(t, "packed")
	cli := srv.Client(t).S3
	src, _ := packTree(t, 80)
	state := t.TempDir()
	res := airlift(t, srv, "copy", src, "s3://packed/ds", "--pack", "--shard-size", "1MiB", "--state-dir", state)
	wantCode(t, res, 0)
	before := packedShards(t, srv)

	changed := filepath.Join(src, "class00", "img_0000.jpg")
	if err := os.WriteFile(changed, []byte("new bytes"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(src, "class01", "img_0001.json")); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"new_0001.jpg", "new_0001.json"} {
		if err := os.WriteFile(filepath.Join(src, "class02", n), []byte(n), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	res = airlift(t, srv, "sync", src, "s3://packed/ds", "--pack", "--shard-size", "1MiB", "--delete", "--json", "--state-dir", state)
	wantCode(t, res, 0)
	var rep struct {
		Files   int64  `json:"files"`
		Skipped int64  `json:"files_skipped"`
		Index   string `json:"index"`
		Shards  int    `json:"shards"`
	}
	if err := json.Unmarshal([]byte(res.stdout), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Files != 3 || rep.Shards != 1 {
		t.Fatalf("sync --pack sent %d files in %d shards; want the 3 new and changed in 1\n%s", rep.Files, rep.Shards, res.stdout)
	}
	head, members := readIndex(t, cli, "packed", strings.TrimPrefix(rep.Index, "s3://packed/"))
	last := head.Shards[len(head.Shards)-1].URL
	if len(head.Shards) != before+1 || last != fmt.Sprintf("shard-%06d.tar", before) {
		t.Errorf("shards after sync: %d, last %s; want %d, numbered after the last", len(head.Shards), last, before+1)
	}
	states := map[string][]string{}
	for _, m := range members {
		states[m.Path] = append(states[m.Path], m.State+"@"+m.Shard)
	}
	for path, want := range map[string]string{
		"class00/img_0000.jpg":  "superseded@shard-000000.tar,@" + last,
		"class01/img_0001.json": "deleted@shard-000000.tar",
		"class02/new_0001.jpg":  "@" + last,
	} {
		if got := strings.Join(states[path], ","); got != want {
			t.Errorf("%s in the index: %s, want %s", path, got, want)
		}
	}
	restore := filepath.Join(t.TempDir(), "r")
	wantCode(t, airlift(t, srv, "copy", "s3://packed/ds", restore), 0)
	sameTree(t, src, restore)
	wantCode(t, airlift(t, srv, "verify", src, "s3://packed/ds"), 0)
	wantCode(t, airlift(t, srv, "verify", src, "s3://packed/ds", "--deep"), 0)
	if res := airlift(t, srv, "cat", "s3://packed/ds/class00/img_0000.jpg"); res.stdout != "new bytes" {
		t.Errorf("cat of the changed file: %q", res.stdout)
	}
	wantCode(t, airlift(t, srv, "cat", "s3://packed/ds/class01/img_0001.json"), 1)

	// Nothing changed: nothing sent, no new index.
	indexes := len(strings.Split(strings.TrimSpace(srv.AWS(t, "s3", "ls", "s3://packed/ds/.airlift/index/")), "\n"))
	res = airlift(t, srv, "sync", src, "s3://packed/ds", "--pack", "--shard-size", "1MiB", "--delete", "--json", "--state-dir", state)
	wantCode(t, res, 0)
	mustContain(t, "sync --json", res.stdout, `"files": 0`)
	if n := len(strings.Split(strings.TrimSpace(srv.AWS(t, "s3", "ls", "s3://packed/ds/.airlift/index/")), "\n")); n != indexes {
		t.Errorf("a sync with nothing changed wrote an index (%d, was %d)", n, indexes)
	}

	// compact --below 100% rewrites every shard holding a dead member
	// (shard 0): its live members move to a new shard, checked, and it
	// is deleted once the new index no longer names it.
	res = airlift(t, srv, "compact", "s3://packed/ds", "--below", "100%", "--shard-size", "1MiB", "--json")
	wantCode(t, res, 0)
	var crep struct {
		Files   int64  `json:"files"`
		Removed int    `json:"shards_removed"`
		Index   string `json:"index"`
	}
	if err := json.Unmarshal([]byte(res.stdout), &crep); err != nil || crep.Removed != 1 || crep.Files == 0 {
		t.Fatalf("compact: %+v (%v)\n%s", crep, err, res.stdout)
	}
	if ls := srv.AWS(t, "s3", "ls", "s3://packed/ds/"); strings.Contains(ls, "shard-000000.tar") {
		t.Errorf("shard-000000.tar is still there after compact:\n%s", ls)
	}
	_, members = readIndex(t, cli, "packed", strings.TrimPrefix(crep.Index, "s3://packed/"))
	for _, m := range members {
		if m.Shard == "shard-000000.tar" {
			t.Errorf("the index still names the removed shard: %+v", m)
		}
	}
	restore = filepath.Join(t.TempDir(), "r2")
	wantCode(t, airlift(t, srv, "copy", "s3://packed/ds", restore), 0)
	sameTree(t, src, restore)
	wantCode(t, airlift(t, srv, "verify", src, "s3://packed/ds", "--deep"), 0)
}

// packedShards counts the shards under s3://packed/ds.
func packedShards(t *testing.T, srv *s3test.Server) int {
	return strings.Count(srv.AWS(t, "s3", "ls", "s3://packed/ds/"), " shard-")
}

// TestPackMemberChangesDuringUpload: a file rewritten while its shard is
// being sent fails the shard (never a shard with other bytes than its
// index says), its multipart upload is aborted, no index is written; the
// next run packs the new content.
func TestPackMemberChangesDuringUpload(t *testing.T) {
	r := newRig(t)
	src, _ := packTree(t, 300)
	victim := filepath.Join(src, "class06", "img_0006.jpg") // in the last part of the one shard
	var once sync.Once
	r.px.set(func(op s3op, n int, req *http.Request) *fault {
		if op == opPart && strings.HasSuffix(req.URL.Path, "/shard-000000.tar") {
			once.Do(func() {
				later := time.Now().Add(time.Hour)
				if err := os.Chtimes(victim, later, later); err != nil {
					t.Error(err)
				}
			})
		}
		return nil
	}, nil)
	args := []string{"--pack", "--shard-size", "64MiB", "--part-concurrency", "1"}
	res := r.copy(t, src, "ds", args...)
	wantCode(t, res, 1)
	mustContain(t, "stderr", res.stderr, "changed")
	mustContain(t, "stderr", res.stderr, "index not written")
	r.noOpenUploads(t, "ds/")
	if _, ok := r.objectBytes(t, "ds/")["ds/shard-000000.tar"]; ok {
		t.Error("the shard was completed from a file that changed while it was read")
	}
	r.px.set(nil, nil)
	wantCode(t, r.copy(t, src, "ds", args...), 0)
	restore := t.TempDir()
	wantCode(t, airliftEnv(t, r.srv, nil, "copy", "s3://"+r.bucket+"/ds", restore), 0)
	sameTree(t, src, restore)
}

// TestPackSyncCompactE2E: sync --pack --delete --compact-below 50% after
// enough of shard 0's files were deleted or changed that less than half
// its bytes are live: the pass writes its index, the compaction moves
// shard 0's live members into a new shard, writes a newer index, and only
// then deletes shard 0. Checked from outside airlift (the aws CLI lists
// the prefix and HEADs the old shard), then the prefix restores byte for
// byte and verifies.
func TestPackSyncCompactE2E(t *testing.T) {
	s3test.AWSCLI(t)
	srv := s3test.Start(t, s3test.Options{})
	srv.CreateBucket(t, "packed")
	cli := srv.Client(t).S3
	src, _ := packTree(t, 80)
	state := t.TempDir()
	res := airlift(t, srv, "copy", src, "s3://packed/ds", "--pack", "--shard-size", "1MiB", "--json", "--state-dir", state)
	wantCode(t, res, 0)
	var crep struct {
		Index string `json:"index"`
	}
	if err := json.Unmarshal([]byte(res.stdout), &crep); err != nil {
		t.Fatal(err)
	}
	head, members := readIndex(t, cli, "packed", strings.TrimPrefix(crep.Index, "s3://packed/"))
	if len(head.Shards) < 3 {
		t.Fatalf("want at least 3 shards to keep some, got %d", len(head.Shards))
	}
	// Delete shard 0's members from the front until 60% of its data is
	// gone, and change one more: its live share is then under 40%.
	var total, dead int64
	var inShard0 []indexLine
	for _, m := range members {
		if m.Shard == "shard-000000.tar" {
			inShard0 = append(inShard0, m)
			total += m.Size
		}
	}
	i := 0
	for ; dead < total*6/10; i++ {
		dead += inShard0[i].Size
		if err := os.Remove(filepath.Join(src, filepath.FromSlash(inShard0[i].Path))); err != nil {
			t.Fatal(err)
		}
	}
	if i >= len(inShard0) {
		t.Fatal("every member of shard 0 was deleted; want some left to move")
	}
	if err := os.WriteFile(filepath.Join(src, filepath.FromSlash(inShard0[i].Path)), []byte("changed"), 0o644); err != nil {
		t.Fatal(err)
	}

	res = airlift(t, srv, "sync", src, "s3://packed/ds", "--pack", "--shard-size", "1MiB", "--delete",
		"--compact-below", "50%", "--json", "--state-dir", state)
	wantCode(t, res, 0)
	var rep struct {
		Index      string `json:"index"`
		Compaction struct {
			Rewritten int    `json:"shards_rewritten"`
			Written   int    `json:"shards_written"`
			Bytes     int64  `json:"bytes_rewritten"`
			Moved     int    `json:"members_moved"`
			Deleted   int    `json:"shards_deleted"`
			Index     string `json:"index"`
		} `json:"compaction"`
	}
	if err := json.Unmarshal([]byte(res.stdout), &rep); err != nil {
		t.Fatal(err)
	}
	c := rep.Compaction
	if c.Rewritten != 1 || c.Deleted != 1 || c.Written != 1 || c.Moved != len(inShard0)-i-1 || c.Bytes <= 0 || strings.TrimSuffix(c.Index, ".jsonl.zst") <= strings.TrimSuffix(rep.Index, ".jsonl.zst") {
		t.Fatalf("compaction: %+v, want shard 0 alone rewritten (%d live members moved) and deleted, into an index after the pass's %s\n%s",
			c, len(inShard0)-i-1, rep.Index, res.stdout)
	}

	t.Logf("sync --compact-below 50%%: %+v", c)
	ls := srv.AWS(t, "s3", "ls", "s3://packed/ds/")
	t.Logf("aws s3 ls s3://packed/ds/ after it:\n%s", ls)
	if strings.Contains(ls, "shard-000000.tar") {
		t.Errorf("shard-000000.tar is still listed after the compaction:\n%s", ls)
	}
	for _, sh := range head.Shards[1:] {
		mustContain(t, "listing", ls, " "+sh.URL+"\n") // shards above the threshold are kept
	}
	if out := srv.AWS(t, "s3api", "list-objects-v2", "--bucket", "packed", "--prefix", "ds/shard-000000", "--query", "Contents[].Key", "--output", "text"); strings.TrimSpace(out) != "None" {
		t.Errorf("s3api list-objects-v2 of the old shard: %q, want none", out)
	}
	_, members = readIndex(t, cli, "packed", strings.TrimPrefix(c.Index, "s3://packed/"))
	for _, m := range members {
		if m.Shard == "shard-000000.tar" {
			t.Errorf("the newest index still names the deleted shard: %+v", m)
		}
	}

	restore := filepath.Join(t.TempDir(), "r")
	wantCode(t, airlift(t, srv, "copy", "s3://packed/ds", restore), 0)
	sameTree(t, src, restore) // every file, byte for byte
	want, got := s3test.B3SumTree(t, src), s3test.B3SumTree(t, restore)
	if len(want) != len(got) {
		t.Errorf("b3sum: %d files restored, %d in the source", len(got), len(want))
	}
	for rel, sum := range want {
		if got[rel] != sum {
			t.Errorf("b3sum of %s: %s restored, %s in the source", rel, got[rel], sum)
		}
	}
	wantCode(t, airlift(t, srv, "verify", src, "s3://packed/ds"), 0)
	wantCode(t, airlift(t, srv, "verify", src, "s3://packed/ds", "--deep"), 0)
}

// --compact-below takes a percentage in (0, 100%] and only with --pack:
// anything else is refused in one line before any request.
func TestPackSyncCompactBelowRefused(t *testing.T) {
	srv := s3test.Start(t, s3test.Options{})
	src := tree(t, map[string]int{"a.txt": 10})
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--pack", "--compact-below", "0%"}, `--compact-below "0%": want a percentage in (0, 100]`},
		{[]string{"--pack", "--compact-below", "150%"}, `--compact-below "150%": want a percentage`},
		{[]string{"--pack", "--compact-below", "half"}, `--compact-below "half": want a percentage`},
		{[]string{"--pack", "--compact-below", "50"}, `--compact-below "50": want a percentage`},
		{[]string{"--compact-below", "50%"}, "--compact-below works only with --pack"},
	} {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			res := airlift(t, srv, append([]string{"sync", src, "s3://nobucket/p"}, c.args...)...)
			wantCode(t, res, 2)
			if got := strings.TrimSpace(res.stderr); strings.Count(got, "\n") != 0 || !strings.Contains(got, c.want) {
				t.Errorf("stderr: %q, want one line with %q", got, c.want)
			}
		})
	}
}
