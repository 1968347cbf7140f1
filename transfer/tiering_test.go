package transfer

import (
	"testing"
	"time"
)

func TestClassRules(t *testing.T) {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	var rules []ClassRule
	for _, s := range []string{"atime>180d=GLACIER_IR", "mtime>365d=DEEP_ARCHIVE"} {
		r, err := ParseClassRule(s)
		if err != nil {
			t.Fatal(err)
		}
		rules = append(rules, r)
	}
	days := func(n int) time.Time { return now.Add(-time.Duration(n) * 24 * time.Hour) }
	cases := []struct {
		atime, mtime time.Time
		def, want    string
	}{
		{days(1), days(30), "", "STANDARD"},
		{days(1), days(30), "STANDARD_IA", "STANDARD_IA"},
		{days(200), days(400), "", "GLACIER_IR"}, // the first match wins
		{days(10), days(400), "", "DEEP_ARCHIVE"},
		{time.Time{}, days(200), "", "STANDARD"}, // no atime (an object): atime rules pass
	}
	for i, c := range cases {
		e := Entry{ModTime: c.mtime}
		if !c.atime.IsZero() {
			e.Atime = c.atime.UnixNano()
		}
		if got := ClassOf(rules, c.def, e, now); got != c.want {
			t.Errorf("case %d: %s, want %s", i, got, c.want)
		}
	}
	for _, bad := range []string{"atime>180d", "ctime>1d=GLACIER", "atime>soon=GLACIER", "atime>1d=COLD"} {
		if _, err := ParseClassRule(bad); err == nil {
			t.Errorf("ParseClassRule(%q) accepted", bad)
		}
	}
}
