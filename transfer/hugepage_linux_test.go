package transfer

import (
	"bufio"
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"unsafe"
)

// TestPoolAdvisesHugePages: a part buffer from the pool lies (but for its
// unaligned ends) in memory advised for transparent huge pages, which the
// kernel marks "hg" in the VmFlags of the mapping.
func TestPoolAdvisesHugePages(t *testing.T) {
	p := NewPool(64 << 20)
	big, err := p.Get(context.Background(), 16<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Put(big)
	mid := uintptr(unsafe.Pointer(&big[len(big)/2]))
	if flags := vmFlags(t, mid); !strings.Contains(flags, " hg") {
		t.Errorf("a 16 MiB buffer's mapping has VmFlags %q, want hg", flags)
	}
	for i := range big { // and it is ordinary memory
		big[i] = byte(i)
	}
	for i := range big {
		if big[i] != byte(i) {
			t.Fatalf("byte %d reads %d", i, big[i])
		}
	}
}

// vmFlags returns the VmFlags line of the mapping in /proc/self/smaps
// that holds addr.
func vmFlags(t *testing.T, addr uintptr) string {
	t.Helper()
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Skipf("no smaps: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	in := false
	for sc.Scan() {
		line := sc.Text()
		if lo, hi, ok := mappingRange(line); ok {
			in = lo <= addr && addr < hi
			continue
		}
		if in && strings.HasPrefix(line, "VmFlags:") {
			return strings.TrimPrefix(line, "VmFlags:")
		}
	}
	t.Fatalf("no mapping holds %#x", addr)
	return ""
}

// mappingRange parses a mapping's first line: "lo-hi perms ...".
func mappingRange(line string) (lo, hi uintptr, ok bool) {
	r, _, _ := strings.Cut(line, " ")
	a, b, found := strings.Cut(r, "-")
	if !found {
		return 0, 0, false
	}
	x, err1 := strconv.ParseUint(a, 16, 64)
	y, err2 := strconv.ParseUint(b, 16, 64)
	if err1 != nil || err2 != nil {
		return 0, 0, false
	}
	return uintptr(x), uintptr(y), true
}
