package transfer

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// hugePage is the size of a transparent huge page on amd64 and arm64.
const hugePage = 2 << 20

// adviseHuge asks the kernel to back the whole 2 MiB pages inside b with
// transparent huge pages (a no-op where THP is off or madvise fails). A
// part buffer is touched once per page the first time it is filled: a
// 16 MiB buffer costs 4,096 page faults in 4 KiB pages and 8 in huge ones,
// and on a virtual machine each fault is a trip to the hypervisor. Called
// on a buffer fresh from make, before anything has written to it.
func adviseHuge(b []byte) {
	if cap(b) < hugePage {
		return
	}
	b = b[:cap(b)]
	start := uintptr(unsafe.Pointer(&b[0]))
	lo := (start + hugePage - 1) &^ (hugePage - 1)
	hi := (start + uintptr(len(b))) &^ (hugePage - 1)
	if hi <= lo {
		return
	}
	_ = unix.Madvise(b[lo-start:hi-start], unix.MADV_HUGEPAGE)
}
