package main

import (
	"strings"

	"github.com/spf13/cobra"

	"github.com/airlift-io/airlift/internal/iam"
	"github.com/airlift-io/airlift/internal/ui"
)

func newIAMPolicyCmd(a *app) *cobra.Command {
	var o iam.Options
	var jsonOut bool
	cmd := &cobra.Command{
		Use:   "iam-policy " + strings.Join(iam.Commands, "|") + " s3://bucket[/prefix]",
		Short: "Print the least-privilege IAM policy a command needs for a bucket and prefix",
		Long: `Print the IAM policy (JSON) that lets the named airlift command work on
s3://bucket/prefix and on nothing else: object actions on the keys under the
prefix, listings only of the prefix, multipart and tagging actions where the
command uses them, the KMS key with --sse aws:kms --sse-kms-key-id, and for
datasync the DataSync API and iam:PassRole of --role-arn to DataSync alone.
"download" is copy from s3:// to a folder.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			loc, err := location("", args[1])
			if err != nil {
				return err
			}
			o.Bucket, o.Prefix = loc.Bucket, loc.Prefix
			p, err := iam.For(args[0], o)
			if err != nil {
				return err
			}
			if jsonOut {
				return a.printJSON(ui.IAMPolicyJSON{Command: args[0], Bucket: o.Bucket, Prefix: iam.Folder(o.Prefix), Policy: p})
			}
			return a.printJSON(p)
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&o.Delete, "delete", false, "sync will run with --delete")
	fl.StringVar(&o.SSE, "sse", "", "the command will run with --sse (aws:kms adds the key's permissions)")
	fl.StringVar(&o.KMSKeyID, "sse-kms-key-id", "", "the KMS key of --sse aws:kms (ARN or key id)")
	fl.StringVar(&o.RoleARN, "role-arn", "", "datasync: the role DataSync assumes (iam:PassRole is granted on it alone)")
	fl.BoolVar(&jsonOut, "json", false, "print the policy with the command, bucket and prefix it is for")
	return cmd
}
