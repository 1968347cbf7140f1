package watch

import (
	"context"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

// A burst of events makes one pass after the debounce, a new folder is
// watched, pending files bring a follow-up pass, and Stop ends the watch.
func TestWatchDebouncesAndFollowsNewFolders(t *testing.T) {
	root := t.TempDir()
	var passes atomic.Int32
	var pendingOnce atomic.Bool
	passed := make(chan struct{}, 100)
	stop := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- Run(context.Background(), Options{
			Root: root, Interval: time.Hour, Debounce: 200 * time.Millisecond, Stop: stop,
			Pass: func(context.Context) bool {
				passes.Add(1)
				passed <- struct{}{}
				return pendingOnce.CompareAndSwap(true, false)
			},
		})
	}()
	wait := func(what string) {
		t.Helper()
		select {
		case <-passed:
		case <-time.After(5 * time.Second):
			t.Fatalf("no pass for %s", what)
		}
	}
	wait("the start")

	for i := 0; i < 5; i++ { // a burst: one pass
		os.WriteFile(filepath.Join(root, "f"+string(rune('a'+i))), []byte("x"), 0o644)
		time.Sleep(20 * time.Millisecond)
	}
	wait("the burst")
	time.Sleep(400 * time.Millisecond)
	if n := passes.Load(); n != 2 {
		t.Fatalf("%d passes after one burst, want 2", n)
	}

	// A folder created after the start is watched too.
	sub := filepath.Join(root, "new")
	os.Mkdir(sub, 0o755)
	wait("the new folder")
	time.Sleep(300 * time.Millisecond)
	pendingOnce.Store(true) // this pass leaves a file pending
	os.WriteFile(filepath.Join(sub, "inside"), []byte("x"), 0o644)
	wait("a file in the new folder")
	wait("the follow-up of a pass that left files pending")

	close(stop)
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after Stop")
	}
}

// Without events (as on NFS) the interval alone drives passes.
func TestWatchRescansOnInterval(t *testing.T) {
	var passes atomic.Int32
	stop := make(chan struct{})
	go func() {
		time.Sleep(700 * time.Millisecond)
		close(stop)
	}()
	err := Run(context.Background(), Options{
		Root: t.TempDir(), Interval: 150 * time.Millisecond, Debounce: time.Hour, Stop: stop,
		Pass: func(context.Context) bool { passes.Add(1); return false },
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := passes.Load(); n < 3 {
		t.Fatalf("%d passes in 700ms with a 150ms interval", n)
	}
}

// Continuous events cannot postpone a pass beyond MaxDelay.
func TestWatchChurnDoesNotStarvePasses(t *testing.T) {
	root := t.TempDir()
	var passes atomic.Int32
	stop := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- Run(context.Background(), Options{
			Root: root, Interval: time.Hour, Debounce: 300 * time.Millisecond, MaxDelay: 600 * time.Millisecond, Stop: stop,
			Pass: func(context.Context) bool { passes.Add(1); return false },
		})
	}()
	time.Sleep(200 * time.Millisecond) // the first pass
	end := time.Now().Add(2 * time.Second)
	for i := 0; time.Now().Before(end); i++ {
		os.WriteFile(filepath.Join(root, "churn"), []byte{byte(i)}, 0o644)
		time.Sleep(50 * time.Millisecond)
	}
	close(stop)
	<-done
	if n := passes.Load(); n < 3 {
		t.Fatalf("%d passes during 2s of churn with a 600ms max delay", n)
	}
}
