package datasync

import (
	"bytes"
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	ds "github.com/aws/aws-sdk-go-v2/service/datasync"
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
	if o.Region != "" {
		lo = append(lo, config.WithRegion(o.Region))
	}
	if o.Profile != "" {
		lo = append(lo, config.WithSharedConfigProfile(o.Profile))
	}
	if o.CABundle != "" {
		pem, err := os.ReadFile(o.CABundle)
		if err != nil {
			return nil, fmt.Errorf("--ca-bundle: %w", err)
		}
		lo = append(lo, config.WithCustomCABundle(bytes.NewReader(pem)))
	}
	if o.MaxAttempts > 0 {
		lo = append(lo, config.WithRetryMaxAttempts(o.MaxAttempts))
	}
	cfg, err := config.LoadDefaultConfig(ctx, lo...)
	if err != nil {
		return nil, fmt.Errorf("loading AWS configuration: %w", err)
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
