package main

import (
	"context"
	"errors"
	"fmt"
	"os"

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
