package main

import (
	"errors"

	"github.com/spf13/cobra"

	"github.com/airlift-io/airlift/internal/outcome"
	"github.com/airlift-io/airlift/transfer"
)

func newCatCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "cat s3://bucket/dataset/path/in/dataset",
		Short: "Print one file of a packed dataset (copy --pack) with one ranged GET through its index",
		Long: `Print one file of a packed dataset to stdout. The nearest packed dataset above
the path (a prefix with .airlift/index/) is found, its newest index says which
shard holds the file and at which offset, and one ranged GET reads exactly the
file's bytes. Its BLAKE3 is checked against the index once written: on a
mismatch the exit code is 1.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			loc, err := location("", args[0])
			if err != nil {
				return err
			}
			t, err := a.connect(cmd.Context(), loc, 2)
			if err != nil {
				return err
			}
			_, err = transfer.Cat(cmd.Context(), t.API, loc, a.stdout)
			if errors.Is(err, transfer.ErrNotPacked) {
				return outcome.As(outcome.Usage, err)
			}
			return outcome.As(outcome.Failed, err)
		},
	}
}
