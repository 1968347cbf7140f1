package transfer

import (
	"context"
	"strings"
	"testing"
)

func TestParseLocation(t *testing.T) {
	cases := []struct {
		in      string
		want    Location
		wantErr string
	}{
		{"s3://bucket", Location{"bucket", ""}, ""},
		{"s3://bucket/", Location{"bucket", ""}, ""},
		{"s3://bucket/a/b/", Location{"bucket", "a/b/"}, ""},
		{"S3://bucket/x", Location{"bucket", "x"}, ""},
		{"/local/path", Location{}, "not an s3:// URL"},
		{"s3://", Location{}, "no bucket name"},
		{"s3://ab", Location{}, "3 to 63"},
		{"s3://bad*name", Location{}, "invalid character"},
		{"s3://BadBucket/x", Location{}, "lower case"},
		{"s3://bad_bucket/x", Location{}, "invalid character"},
		{"s3://-bucket", Location{}, "begin and end"},
		{"s3://a..b", Location{}, "adjacent dots"},
		{"s3://192.168.1.1/x", Location{}, "IP address"},
		{"s3://my.bucket-1/x", Location{"my.bucket-1", "x"}, ""},
	}
	for _, c := range cases {
		got, err := ParseLocation(c.in)
		if c.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("ParseLocation(%q) err = %v, want %q", c.in, err, c.wantErr)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("ParseLocation(%q) = %+v, %v; want %+v", c.in, got, err, c.want)
		}
	}
}

func TestKeyFor(t *testing.T) {
	cases := []struct {
		name    string
		prefix  string
		rel     string
		dir     bool
		want    string
		wantErr string
	}{
		{"dir into bucket root", "", "a/b.txt", true, "a/b.txt", ""},
		{"dir into prefix", "p", "a/b.txt", true, "p/a/b.txt", ""},
		{"dir into prefix/", "p/", "a/b.txt", true, "p/a/b.txt", ""},
		{"file into folder", "p/", "b.txt", false, "p/b.txt", ""},
		{"file into bucket", "", "b.txt", false, "b.txt", ""},
		{"file renamed", "p/new.txt", "b.txt", false, "p/new.txt", ""},
		{"unicode kept", "p", "ünï/文件 #?%&+=.txt", true, "p/ünï/文件 #?%&+=.txt", ""},
		{"1024 bytes is fine", "", strings.Repeat("a", 1024), true, strings.Repeat("a", 1024), ""},
		{"1025 bytes is refused", "", strings.Repeat("a", 1025), true, "", "over S3's limit"},
		{"invalid UTF-8 refused", "", "bad\xff", true, "", "not valid UTF-8"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := KeyFor(Location{Bucket: "b", Prefix: c.prefix}, c.rel, c.dir)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err = %v, want %q", err, c.wantErr)
				}
				return
			}
			if err != nil || got != c.want {
				t.Fatalf("KeyFor = %q, %v; want %q", got, err, c.want)
			}
		})
	}
}

func TestFilter(t *testing.T) {
	cases := []struct {
		include, exclude []string
		rel              string
		want             bool
	}{
		{nil, nil, "a/b.txt", true},
		{nil, []string{"*.tmp"}, "deep/x/y.tmp", false},
		{nil, []string{"*.tmp"}, "deep/x/y.txt", true},
		{[]string{"*.parquet"}, nil, "d/x.parquet", true},
		{[]string{"*.parquet"}, nil, "d/x.csv", false},
		{[]string{"logs/**/*.gz"}, nil, "logs/2026/01/a.gz", true},
		{[]string{"logs/**/*.gz"}, nil, "logs/a.gz", true},
		{[]string{"logs/**/*.gz"}, nil, "other/logs/a.gz", false},
		{[]string{"logs/*.gz"}, nil, "logs/2026/a.gz", false},
		{[]string{"*.parquet"}, []string{"tmp/**"}, "tmp/x.parquet", false},
		{nil, []string{"file?.bin"}, "file1.bin", false},
		{nil, []string{"file[0-4].bin"}, "file5.bin", true},
		{nil, []string{"file[!0-4].bin"}, "file5.bin", false},
	}
	for _, c := range cases {
		f, err := NewFilter(c.include, c.exclude)
		if err != nil {
			t.Fatal(err)
		}
		if got := f.Match(c.rel); got != c.want {
			t.Errorf("include %v exclude %v: Match(%q) = %v, want %v", c.include, c.exclude, c.rel, got, c.want)
		}
	}
	if _, err := NewFilter([]string{"[abc"}, nil); err == nil {
		t.Error("unclosed [ accepted")
	}
}

// The aws CLI's rule: filters apply in order, the last one that matches
// decides, and everything is included by default.
func TestFilterRulesInOrder(t *testing.T) {
	ex := func(p string) Rule { return Rule{Exclude: true, Pattern: p} }
	in := func(p string) Rule { return Rule{Pattern: p} }
	cases := []struct {
		rules []Rule
		rel   string
		want  bool
	}{
		{nil, "a.txt", true},
		{[]Rule{ex("*"), in("*.txt")}, "d/a.txt", true},
		{[]Rule{ex("*"), in("*.txt")}, "d/a.bin", false},
		{[]Rule{in("*.txt"), ex("*")}, "d/a.txt", false},
		{[]Rule{in("*.txt")}, "a.bin", true}, // an include alone changes nothing
		{[]Rule{ex("*"), in("*.txt"), ex("secret*")}, "secret.txt", false},
		{[]Rule{ex("logs/**"), in("logs/keep/*")}, "logs/keep/a", true},
		{[]Rule{ex("logs/**"), in("logs/keep/*")}, "logs/drop/a", false},
		// Names that are not UTF-8 are matched on their bytes.
		{[]Rule{ex("bad*")}, "d/bad\xff.txt", false},
		{[]Rule{ex("bad?.txt")}, "bad\xff.txt", false},
		{[]Rule{ex("bad\xff*")}, "bad\xff.txt", false},
		{[]Rule{ex("bad\xfe*")}, "bad\xff.txt", true},
		{[]Rule{ex("caf\u00e9*")}, "caf\u00e9.txt", false},
		{[]Rule{ex("caf?.txt")}, "caf\u00e9.txt", false},
	}
	for _, c := range cases {
		f, err := NewFilterRules(c.rules)
		if err != nil {
			t.Fatal(err)
		}
		if got := f.Match(c.rel); got != c.want {
			t.Errorf("rules %+v: Match(%q) = %v, want %v", c.rules, c.rel, got, c.want)
		}
	}
}

func TestFilterSelectedNone(t *testing.T) {
	f, _ := NewFilterRules([]Rule{{Exclude: true, Pattern: "*"}, {Pattern: "*.txtt"}})
	f.Match("a.txt")
	f.Match("b/c.txt")
	if n, none := f.SelectedNone(); !none || n != 2 {
		t.Fatalf("SelectedNone = %d, %v; want 2, true", n, none)
	}
	f.Match("x.txtt")
	if _, none := f.SelectedNone(); none {
		t.Fatal("SelectedNone after a match")
	}
	var empty *Filter
	empty.Match("a")
	if _, none := empty.SelectedNone(); none {
		t.Fatal("a nil filter selected none")
	}
}

// s3://bkt//double names keys that start with "/", not those under
// s3://bkt/double; say so rather than let the user look in the wrong place.
func TestLocationWarnsAboutEmptySegments(t *testing.T) {
	for in, want := range map[string]string{
		"s3://bkt//double": "s3://bkt/double",
		"s3://bkt/a//b/":   "s3://bkt/a/b/",
		"s3://bkt/a/b":     "",
		"s3://bkt/":        "",
	} {
		l, err := ParseLocation(in)
		if err != nil {
			t.Fatal(err)
		}
		w := l.Warning()
		if want == "" && w != "" || want != "" && (!strings.Contains(w, "empty path segment") || !strings.Contains(w, want)) {
			t.Errorf("%s: warning %q", in, w)
		}
	}
	up, _ := NewUploader(nil, "bkt", UploadOptions{DryRun: true}, nil)
	rep, err := up.Copy(context.Background(), t.TempDir(), Location{Bucket: "bkt", Prefix: "/double"})
	if err != nil || len(rep.Warnings) != 1 || !strings.Contains(rep.Warnings[0], "empty path segment") {
		t.Fatalf("upload to s3://bkt//double: %v, warnings %q", err, rep.Warnings)
	}
}
