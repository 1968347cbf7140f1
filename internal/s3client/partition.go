package s3client

import "strings"

// Partition is the ARN partition of region ("aws", "aws-cn",
// "aws-us-gov"): bucket and role ARNs that airlift writes for DataSync
// and Snowball jobs must name the partition their region is in.
func Partition(region string) string {
	switch {
	case strings.HasPrefix(region, "cn-"):
		return "aws-cn"
	case strings.HasPrefix(region, "us-gov-"):
		return "aws-us-gov"
	}
	return "aws"
}
