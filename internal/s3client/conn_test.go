package s3client

import (
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/airlift-io/airlift/internal/bwlimit"
)

// A connection waiting for bandwidth tokens stops waiting when it is
// closed: the transport closes it when the request's context ends, and at
// a low limit the wait would otherwise outlast any grace period (at
// 1 KiB/s one 64 KiB chunk takes a minute).
func TestConnCloseEndsBandwidthWait(t *testing.T) {
	for _, dir := range []string{"write", "read"} {
		t.Run(dir, func(t *testing.T) {
			client, server := net.Pipe()
			lim := bwlimit.New(bwlimit.Schedule{{Start: 0, Rate: 1024}}, nil)
			c := newConn(client, time.Hour, lim)
			progressed := make(chan struct{}) // the limiter's burst has passed
			done := make(chan error, 1)
			if dir == "write" {
				go func() {
					_, _ = io.CopyN(io.Discard, server, 256<<10)
					close(progressed)
					_, _ = io.Copy(io.Discard, server)
				}()
				go func() {
					_, err := c.Write(make([]byte, 1<<20))
					done <- err
				}()
			} else {
				go func() { _, _ = server.Write(make([]byte, 1<<20)) }()
				go func() {
					buf := make([]byte, 64<<10)
					var n int
					var once sync.Once
					for {
						m, err := c.Read(buf)
						if n += m; n >= 256<<10 {
							once.Do(func() { close(progressed) })
						}
						if err != nil {
							done <- err
							return
						}
					}
				}()
			}
			<-progressed
			_ = c.Close()
			select {
			case err := <-done:
				if !errors.Is(err, net.ErrClosed) && !errors.Is(err, io.ErrClosedPipe) {
					t.Errorf("%s after close: %v, want a closed-connection error", dir, err)
				}
			case <-time.After(30 * time.Second): // a hang guard, not a measurement
				t.Fatalf("%s still waiting for bandwidth 30 s after the connection was closed", dir)
			}
		})
	}
}
