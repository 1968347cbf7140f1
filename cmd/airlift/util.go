package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// download is set by cmd_download.go when the S3-to-disk direction is
// built in; copy hands s3:// sources to it.
var download func(a *app, cmd *cobra.Command, src, dst string, f copyFlags) error

func statSource(p string) (os.FileInfo, error) {
	fi, err := os.Stat(p)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, fmt.Errorf("source %s: %v", p, err)
	}
	return fi, nil
}

func ctxInterrupted(err error) bool {
	return errors.Is(err, context.Canceled)
}

// applyMemoryLimit tells the Go runtime about the run's memory budget.
// The engine never holds more than budget bytes of buffers, but with the
// default GOGC the heap may grow to twice what is live before a collection,
// so buffers dropped by the pool (when a run moves between size classes)
// would linger and push RSS well past the budget. A soft limit a little
// above the budget makes the collector reclaim them in time. (A higher
// GOGC under that cap was tried for small-file runs: more RSS, no less
// CPU.) A GOMEMLIMIT set by the user wins.
func applyMemoryLimit(budget int64) {
	if budget <= 0 || os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	debug.SetMemoryLimit(budget + 48<<20)
}
