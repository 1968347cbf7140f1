package units

import "testing"

func TestParseBytes(t *testing.T) {
	cases := []struct {
		in      string
		want    int64
		wantErr bool
	}{
		{"0", 0, false},
		{"1048576", 1 << 20, false},
		{"5MiB", 5 << 20, false},
		{"5M", 5 << 20, false},
		{"5MB", 5_000_000, false},
		{"1.5GiB", 3 << 29, false},
		{"256 MiB", 256 << 20, false},
		{"", 0, true},
		{"MiB", 0, true},
		{"12XB", 0, true},
		{"-1", 0, true},
	}
	for _, c := range cases {
		got, err := ParseBytes(c.in)
		if (err != nil) != c.wantErr || got != c.want {
			t.Errorf("ParseBytes(%q) = %d, %v; want %d, err=%v", c.in, got, err, c.want, c.wantErr)
		}
	}
}

func TestParseRate(t *testing.T) {
	cases := []struct {
		in   string
		want float64
	}{
		{"100MiB/s", 100 << 20},
		{"50M", 50 << 20},
		{"1Gbps", 125e6},
		{"100Mbit/s", 12.5e6},
	}
	for _, c := range cases {
		got, err := ParseRate(c.in)
		if err != nil || got != c.want {
			t.Errorf("ParseRate(%q) = %v, %v; want %v", c.in, got, err, c.want)
		}
	}
	if _, err := ParseRate("fast"); err == nil {
		t.Error("ParseRate(fast) succeeded")
	}
}

func TestFormatBytes(t *testing.T) {
	for in, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 3 << 29: "1.5 GiB"} {
		if got := FormatBytes(in); got != want {
			t.Errorf("FormatBytes(%d) = %q, want %q", in, got, want)
		}
	}
}
