package checksum

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// Known answers from the BLAKE3 reference (b3sum of the empty input and of
// "abc").
func TestSumKnownAnswers(t *testing.T) {
	cases := map[string]string{
		"":    "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262",
		"abc": "6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85",
	}
	for in, want := range cases {
		if got := Sum([]byte(in)); got != want {
			t.Errorf("Sum(%q) = %s, want %s", in, got, want)
		}
		h := NewHasher()
		for i := 0; i < len(in); i++ { // byte at a time, as a reader may deliver it
			h.Write([]byte{in[i]})
		}
		if got := h.Hex(); got != want {
			t.Errorf("streaming %q = %s, want %s", in, got, want)
		}
	}
}

func TestCRC32C(t *testing.T) {
	// CRC32C("123456789") = 0xE3069283, the standard check value.
	if got, want := CRC32C([]byte("123456789")), "4waSgw=="; got != want {
		t.Fatalf("CRC32C = %s, want %s", got, want)
	}
}

func TestManifestRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	hdr := ManifestHeader{RunID: "r1", Created: time.Unix(1700000000, 0).UTC(), Dest: "s3://b/p/"}
	w, err := NewManifestWriter(&buf, hdr)
	if err != nil {
		t.Fatal(err)
	}
	want := []ManifestEntry{
		{Key: "p/a", Size: 3, BLAKE3: Sum([]byte("abc")), ETag: `"x"`},
		{Key: "p/ü <&>", Size: 0, BLAKE3: Sum(nil), Parts: 2},
	}
	for _, e := range want {
		if err := w.Add(e); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	var got []ManifestEntry
	h, err := ReadManifest(&buf, func(e ManifestEntry) error { got = append(got, e); return nil })
	if err != nil {
		t.Fatal(err)
	}
	if h.RunID != "r1" || h.Version != ManifestVersion || len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("round trip: header %+v entries %+v", h, got)
	}
	if _, err := ReadManifest(strings.NewReader("not zstd"), func(ManifestEntry) error { return nil }); err == nil {
		t.Fatal("garbage accepted as a manifest")
	}
}
