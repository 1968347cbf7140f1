package transfer

import (
	"context"
	"fmt"
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

// SourceConn says how to reach an s3:// source. An empty field takes the
// destination's setting; each side resolves its own credentials (the
// SDK's default chain, with its profile).
type SourceConn struct {
	EndpointURL, Profile, Region, CABundle string
}

// ConnectSource runs the preflight for the bucket a run reads from and
// returns it as a Source. The destination's server copies the objects
// itself (Bucket.ServerSide) when the source is reached exactly as the
// destination is: same endpoint, profile, region and CA bundle, hence the
// same server and credentials.
func ConnectSource(ctx context.Context, dst s3client.Options, c SourceConn, loc Location, maxConns int, filter *Filter) (*Bucket, error) {
	o, same := dst, true
	for _, f := range []struct {
		to   *string
		from string
	}{{&o.EndpointURL, c.EndpointURL}, {&o.Profile, c.Profile}, {&o.Region, c.Region}, {&o.CABundle, c.CABundle}} {
		if f.from != "" && f.from != *f.to {
			*f.to, same = f.from, false
		}
	}
	o.Limiter = nil // --bwlimit paces what is sent, not what is read
	t, err := Connect(ctx, o, loc, maxConns)
	if err != nil {
		return nil, fmt.Errorf("source %s: %w", loc, err)
	}
	return &Bucket{API: t.API, Loc: loc, Filter: filter, ServerSide: same, Retries: t.Client.Retries}, nil
}
