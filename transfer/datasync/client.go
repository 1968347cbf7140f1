package datasync

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	ds "github.com/aws/aws-sdk-go-v2/service/datasync"

	"github.com/airlift-io/airlift/internal/s3client"
)

// ClientOptions say how to reach DataSync.
type ClientOptions struct {
	Region      string
	Profile     string // shared-config profile
	EndpointURL string // "" = the regional endpoint
	CABundle    string
	MaxAttempts int // 0 = SDK default
}

// NewClient builds a DataSync client with credentials from the SDK's
// default chain. It does not contact the endpoint.
func NewClient(ctx context.Context, o ClientOptions) (*ds.Client, error) {
	var lo []func(*config.LoadOptions) error
	if o.MaxAttempts > 0 {
		lo = append(lo, config.WithRetryMaxAttempts(o.MaxAttempts))
	}
	cfg, err := s3client.LoadConfig(ctx, s3client.ConfigOptions{Region: o.Region, Profile: o.Profile, CABundle: o.CABundle}, lo...)
	if err != nil {
		return nil, err
	}
	if cfg.Region == "" {
		if o.EndpointURL == "" {
			return nil, fmt.Errorf("DataSync needs a region: set --region or AWS_REGION")
		}
		cfg.Region = "us-east-1"
	}
	return ds.NewFromConfig(cfg, func(so *ds.Options) {
		if o.EndpointURL != "" {
			so.BaseEndpoint = aws.String(o.EndpointURL)
		}
	}), nil
}

// CheckCredentials resolves the credential chain once, so that "no
// credentials" is reported as such instead of as a failed request.
func CheckCredentials(ctx context.Context, cli *ds.Client) error {
	cp := cli.Options().Credentials
	if cp == nil {
		return fmt.Errorf("no AWS credentials found for DataSync (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or use --profile)")
	}
	if _, err := cp.Retrieve(ctx); err != nil {
		return fmt.Errorf("no usable AWS credentials for DataSync (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or use --profile): %v", err)
	}
	return nil
}
