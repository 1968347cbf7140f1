package transfer

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// lstatAt must say what os.Lstat says: the walk judges files by it.
func TestLstatAtMatchesLstat(t *testing.T) {
	dir := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.WriteFile(filepath.Join(dir, "file"), []byte("hello"), 0o640))
	must(os.Mkdir(filepath.Join(dir, "dir"), 0o1755))
	must(os.Symlink("file", filepath.Join(dir, "link")))
	must(syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o600))
	d, err := os.Open(dir)
	must(err)
	defer d.Close()
	for _, name := range []string{"file", "dir", "link", "fifo"} {
		want, err := os.Lstat(filepath.Join(dir, name))
		must(err)
		got := &statInfo{}
		must(lstatAt(int(d.Fd()), name, got))
		if got.Name() != want.Name() || got.Size() != want.Size() || got.Mode() != want.Mode() ||
			!got.ModTime().Equal(want.ModTime()) || got.IsDir() != want.IsDir() ||
			*got.Sys().(*syscall.Stat_t) != *want.Sys().(*syscall.Stat_t) {
			t.Errorf("%s: lstatAt %v %d %v %v, os.Lstat %v %d %v %v", name, got.Mode(), got.Size(), got.ModTime(), got.Sys(), want.Mode(), want.Size(), want.ModTime(), want.Sys())
		}
	}
	if err := lstatAt(int(d.Fd()), "missing", &statInfo{}); !os.IsNotExist(err) {
		t.Errorf("lstatAt of a missing name: %v", err)
	}
}
