package transfer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"github.com/klauspost/compress/zstd"
	"math"
	"math/rand"
	"testing"
	"time"
)

// jsonLine is what encoding/json writes for m as a line of the index.
func jsonLine(t testing.TB, m IndexMember) []byte {
	var b bytes.Buffer
	if err := json.NewEncoder(&b).Encode(m); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// awkward are strings encoding/json escapes, or keeps as they are where a
// hand-written encoder might not.
var awkward = []string{
	"", "a", "n01440764/img_0001.jpg", "café/ñandú.json", "quote\"d", `back\slash`, "tab\there", "nl\nx",
	"\x00\x01\x1f", "\x7f", "<b>&amp;</b>", "\xff\xfe", "bad\xc3", "\u2028\u2029", "emoji 🦙", "/", "a/b/c.tar",
	"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
}

func TestAppendLineIsEncodingJSON(t *testing.T) {
	tests := []IndexMember{
		{},
		{Path: "d/x.jpg", Shard: "shard-000000.tar", Offset: 512, Size: 16384, MTimeNS: 1764633600123456789, Mode: 0o644, BLAKE3: awkward[len(awkward)-1]},
		{Path: "big.bin", Object: "big.bin", Size: math.MaxInt64, MTimeNS: -1, Mode: math.MaxUint32, BLAKE3: "x"},
		{Path: "z/y.txt", Shard: "shard-000001.tar.zst", Offset: 1536, Size: 3, ZOffset: 99, ZSize: 41, ZSkip: 512, State: MemberSuperseded},
		{Path: "gone", Shard: "shard-000002.tar", Offset: math.MinInt64, State: MemberDeleted, ZSkip: -5},
	}
	for _, s := range awkward {
		tests = append(tests, IndexMember{Path: s, Shard: s, Object: s, BLAKE3: s, State: s})
	}
	for _, m := range tests {
		if got, want := AppendLine(nil, &m), jsonLine(t, m); !bytes.Equal(got, want) {
			t.Errorf("AppendLine(%+v)\n got %q\nwant %q", m, got, want)
		}
	}

	// Random members over an alphabet that holds every class of byte.
	rng := rand.New(rand.NewSource(1))
	alphabet := []byte("az09/._-\"\\<>&\x00\x1f\x7f\x80\xc3\xa9\xe2\x80\xa8\xff ")
	str := func() string {
		b := make([]byte, rng.Intn(12))
		for i := range b {
			b[i] = alphabet[rng.Intn(len(alphabet))]
		}
		return string(b)
	}
	num := func() int64 {
		if rng.Intn(3) == 0 {
			return 0
		}
		return rng.Int63() - rng.Int63()
	}
	for range 2000 {
		m := IndexMember{Path: str(), Shard: str(), Object: str(), Offset: num(), Size: num(), MTimeNS: num(),
			Mode: rng.Uint32(), BLAKE3: str(), ZOffset: num(), ZSize: num(), ZSkip: num(), State: str()}
		if got, want := AppendLine([]byte("kept"), &m), append([]byte("kept"), jsonLine(t, m)...); !bytes.Equal(got, want) {
			t.Fatalf("AppendLine(%+v)\n got %q\nwant %q", m, got, want)
		}
	}
}

func TestEncodeLinesIsEncodingJSON(t *testing.T) {
	ms := []IndexMember{{Path: "a", BLAKE3: "b"}, {Path: "c<d", Shard: "s", Size: 7}}
	var got, want bytes.Buffer
	got.WriteString("header\n")
	want.WriteString("header\n")
	encodeLines(&got, ms)
	enc := json.NewEncoder(&want)
	for _, m := range ms {
		if err := enc.Encode(m); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(got.Bytes(), want.Bytes()) {
		t.Fatalf("got %q\nwant %q", got.Bytes(), want.Bytes())
	}
}

func TestShardMetaIsEncodingJSON(t *testing.T) {
	tests := []shardMeta{
		{},
		{Sums: []string{}},
		{Sums: awkward},
		{Sums: []string{"ab", "cd"}, Z: []int64{0, 1, -1, math.MaxInt64, math.MinInt64}},
		{Z: []int64{7}},
		{Sums: []string{"x"}, Z: []int64{}},
	}
	for _, m := range tests {
		want, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		if got := m.appendJSON(nil); !bytes.Equal(got, want) {
			t.Errorf("appendJSON(%+v)\n got %q\nwant %q", m, got, want)
		}
		var back shardMeta // and it reads back as the journal reads it
		if err := json.Unmarshal(m.appendJSON(nil), &back); err != nil {
			t.Errorf("appendJSON(%+v) does not decode: %v", m, err)
		}
	}
}

// BenchmarkIndexLines: a shard's 20,000 index lines, by hand (encodeLines)
// and through encoding/json, as encodeLines wrote them before.
func BenchmarkIndexLines(b *testing.B) {
	ms := make([]IndexMember, 20_000)
	for i := range ms {
		ms[i] = IndexMember{Path: fmt.Sprintf("d%02d/d%02d/f%03d.bin", i/2000, i/100%20, i%100), Shard: "shard-000000.tar",
			Offset: int64(i)*16896 + 512, Size: 16384, MTimeNS: 1764633600123456789 + int64(i), Mode: 0o644,
			BLAKE3: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}
	}
	b.Run("by-hand", func(b *testing.B) {
		for b.Loop() {
			var buf bytes.Buffer
			encodeLines(&buf, ms)
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		for b.Loop() {
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf)
			for _, m := range ms {
				_ = enc.Encode(m)
			}
		}
	})
}

// TestShardFrames: a shard's lines made straight from its layout, a
// frame for each chunk, decompress to those of its members.
func TestShardFrames(t *testing.T) {
	dec, err := zstd.NewReader(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	for _, n := range []int{1, 4, 3000} { // 3,000 lines are a few chunks
		for _, compressed := range []bool{false, true} {
			l := &shardLayout{name: shardName(3, compressed), compressed: compressed}
			var sums []string
			rels := []string{"a/x.jpg", "a/x.json", "b<c>/é.txt", "z"}
			for i := range n {
				e := Entry{Rel: fmt.Sprintf("%s%d", rels[i%len(rels)], i), Size: int64(100 * i), ModTime: time.Unix(1764633600, int64(i)), Mode: 0o640}
				l.add(e, 512)
				l.members[i].zstart, l.members[i].zsize = int64(1000*i), int64(77+i)
				sums = append(sums, fmt.Sprintf("%064x", i))
			}
			got, err := dec.DecodeAll(shardFrames(l, sums), nil)
			if err != nil {
				t.Fatal(err)
			}
			var want bytes.Buffer
			encodeLines(&want, l.indexMembers(sums))
			if !bytes.Equal(got, want.Bytes()) {
				t.Fatalf("%d members, compressed %v: the frames hold other lines", n, compressed)
			}
			if n == 3000 && want.Len() < 2*linesChunk {
				t.Fatalf("3000 lines are %d bytes: not several chunks", want.Len())
			}
		}
	}
}
