package main

import (
	"net/http"
	"sync"
	"testing"
	"time"
)

// A SlowDown storm: the server (through the proxy) answers 503 SlowDown
// to every PutObject and UploadPart until it has refused stormSize of
// them, then recovers. Both the lean PutObject path and the SDK's
// (--sdk-put) must end with every file uploaded and no upload left open.
// The storm is bounded by a count, not a time, so the test does not
// depend on how fast the machine is. That both paths back off alike (the
// same retry middleware, the same delays for the same errors) is asserted
// without a clock in internal/s3client's TestLeanPutConformsToSDKOnErrors;
// here the rates are logged for the record.
func TestSlowDownStorm(t *testing.T) {
	const stormSize = 24 // two refusals for each of the 12 requests the copy keeps in flight
	for _, path := range []struct {
		name  string
		extra []string
	}{{"lean", nil}, {"sdk", []string{"--sdk-put"}}} {
		t.Run(path.name, func(t *testing.T) {
			r := newRig(t)
			src, _, _ := faultTree(t)
			var mu sync.Mutex
			refused := 0
			var first, last time.Time
			r.px.set(func(op s3op, _ int, _ *http.Request) *fault {
				if op != opPut && op != opPart {
					return nil
				}
				mu.Lock()
				defer mu.Unlock()
				if refused == stormSize {
					return nil
				}
				refused++
				if refused == 1 {
					first = time.Now()
				}
				last = time.Now()
				return &fault{kind: faultStatus, status: 503, code: "SlowDown"}
			}, nil)
			res := r.copy(t, src, "storm/", path.extra...)
			wantCode(t, res, 0)
			if got := r.px.injected.Load(); got != stormSize {
				t.Fatalf("%d SlowDowns answered, want the whole storm of %d", got, stormSize)
			}
			r.check(t, src, "storm/")
			mu.Lock()
			d := last.Sub(first)
			mu.Unlock()
			t.Logf("%s path: %d refused PUTs over %s (%.1f requests/s during the storm)", path.name, stormSize, d.Round(time.Millisecond), float64(stormSize)/d.Seconds())
		})
	}
}
