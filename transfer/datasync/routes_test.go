package datasync

import (
	"os"
	"path/filepath"
	"testing"
)

func TestRoutesFor(t *testing.T) {
	p := filepath.Join(t.TempDir(), "routes.json")
	body := `{"routes": [
	  {"root": "/data", "source": "nfs://filer/export", "agent_arns": ["arn:a"], "role_arn": "arn:r"},
	  {"root": "/data/train", "source": "nfs://fast/train", "agent_arns": ["arn:b"], "role_arn": "arn:r"}]}`
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := LoadRoutes(p)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ path, source string }{
		{"/data", "nfs://filer/export"},
		{"/data/eval/x", "nfs://filer/export/eval/x"},
		{"/data/train/shards", "nfs://fast/train/shards"},
		{"/data/training", "nfs://filer/export/training"},
		{"/elsewhere", ""},
	} {
		h, ok := r.For(c.path)
		if ok != (c.source != "") || h.Source != c.source {
			t.Errorf("For(%s) = %q %v, want %q", c.path, h.Source, ok, c.source)
		}
	}
	for name, body := range map[string]string{
		"bad source": `{"routes": [{"root": "/d", "source": "ftp://x/y"}]}`,
		"no root":    `{"routes": [{"source": "nfs://x/y"}]}`,
		"unknown":    `{"routes": [{"root": "/d", "source": "nfs://x/y", "agent": "a"}]}`,
	} {
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadRoutes(p); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
