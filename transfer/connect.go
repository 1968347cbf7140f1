package transfer

import (
	"context"
	"os"

	"github.com/airlift-io/airlift/internal/outcome"
	"github.com/airlift-io/airlift/internal/s3client"
)

// Target is a bucket ready for a run: the client, the view of it the
// engine uses, and where in the bucket the run works.
type Target struct {
	Loc    Location
	Client *s3client.Client
	// API is the client as the engine should see it: on a Snowball Edge
	// every listing goes through ListObjects v1.
	API S3API
}

// Connect is the preflight every command that talks to S3 runs before it
// writes anything: build the client (maxConns requests in flight),
// resolve the credentials, find the bucket's region when talking to AWS
// without one, and prove with one request that the bucket exists and the
// credentials may use it. Every error it returns is a usage or
// configuration error: nothing has been written.
func Connect(ctx context.Context, o s3client.Options, loc Location, maxConns int) (*Target, error) {
	o.MaxConns = maxConns
	cli, err := dial(ctx, o)
	if err != nil {
		return nil, err
	}
	if o.Region == "" && o.EndpointURL == "" && os.Getenv("AWS_REGION") == "" && os.Getenv("AWS_DEFAULT_REGION") == "" {
		// A user need not know the bucket's region.
		if r, rerr := cli.BucketRegion(ctx, loc.Bucket); rerr == nil && r != cli.Region {
			o.Region = r
			if cli, err = dial(ctx, o); err != nil {
				return nil, err
			}
		}
	}
	if err := CheckBucket(ctx, cli.S3, loc.Bucket); err != nil {
		if canceled(err) {
			return nil, err
		}
		return nil, outcome.As(outcome.Usage, err)
	}
	return &Target{Loc: loc, Client: cli, API: View(cli)}, nil
}

func dial(ctx context.Context, o s3client.Options) (*s3client.Client, error) {
	cli, err := s3client.New(ctx, o)
	if err != nil {
		return nil, outcome.As(outcome.Usage, err)
	}
	if err := cli.CheckCredentials(ctx); err != nil {
		return nil, outcome.As(outcome.Usage, err)
	}
	return cli, nil
}

// View is cli as the engine should see it: on a Snowball Edge, every
// listing goes through ListObjects v1.
func View(cli *s3client.Client) S3API {
	if cli.ListV1() {
		return WithListV1(cli.API())
	}
	return cli.API()
}
