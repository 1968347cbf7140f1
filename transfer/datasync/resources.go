package datasync

import (
	"context"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	ds "github.com/aws/aws-sdk-go-v2/service/datasync"
	"github.com/aws/aws-sdk-go-v2/service/datasync/types"
)

// Identities. Each includes what cannot be changed on an existing
// resource, so changing it makes a new resource rather than silently
// reusing one that points elsewhere.

func sourceID(o Options) string {
	s := o.Source
	return id("source", string(s.Kind), s.Host, itoa(s.Port), s.Path, s.User, s.Bucket, strings.Join(o.AgentArns, ","), o.SMBDomain, o.ObjectProtocol)
}

func destID(o Options) string {
	return id("dest", o.Dest.Bucket, subdir(o.Dest.Prefix), o.BucketAccessRoleArn, o.StorageClass)
}

func taskID(o Options, srcArn, dstArn string) string {
	return id("task", srcArn, dstArn, o.TaskMode)
}

func itoa(n int32) string {
	if n == 0 {
		return ""
	}
	return strconv.Itoa(int(n))
}

func tags(ident, role string) []types.TagListEntry {
	return []types.TagListEntry{
		{Key: aws.String(TagID), Value: aws.String(ident)},
		{Key: aws.String("airlift:role"), Value: aws.String(role)},
	}
}

// locationURIPrefix narrows ListLocations to the candidates that can be
// ours; DataSync lists location URIs as scheme://host/subdir.
func locationURIPrefix(o Options) string {
	switch o.Source.Kind {
	case NFS:
		return "nfs://" + o.Source.Host + "/"
	case SMB:
		return "smb://" + o.Source.Host + "/"
	case HDFS:
		return "hdfs://" + o.Source.Host
	case ObjectStorage:
		return "object-storage://" + o.Source.Host
	}
	return ""
}

func (r *Runner) ensureSource(ctx context.Context, o Options) (string, bool, error) {
	ident := sourceID(o)
	arn, err := r.findLocation(ctx, locationURIPrefix(o), ident)
	if err != nil || arn != "" {
		return arn, arn != "", err
	}
	s := o.Source
	t := tags(ident, "source")
	switch s.Kind {
	case NFS:
		out, err := r.API.CreateLocationNfs(ctx, &ds.CreateLocationNfsInput{
			ServerHostname: aws.String(s.Host), Subdirectory: aws.String(s.Path),
			OnPremConfig: &types.OnPremConfig{AgentArns: o.AgentArns},
			MountOptions: &types.NfsMountOptions{Version: types.NfsVersion(o.NFSVersion)},
			Tags:         t,
		})
		if err != nil {
			return "", false, apiErr("CreateLocationNfs", err)
		}
		return aws.ToString(out.LocationArn), false, nil
	case SMB:
		in := &ds.CreateLocationSmbInput{
			ServerHostname: aws.String(s.Host), Subdirectory: aws.String(s.Path), AgentArns: o.AgentArns,
			User: aws.String(s.User), Password: aws.String(o.SMBPassword),
			AuthenticationType: types.SmbAuthenticationTypeNtlm, Tags: t,
		}
		if o.SMBDomain != "" {
			in.Domain = aws.String(o.SMBDomain)
		}
		out, err := r.API.CreateLocationSmb(ctx, in)
		if err != nil {
			return "", false, apiErr("CreateLocationSmb", err)
		}
		return aws.ToString(out.LocationArn), false, nil
	case HDFS:
		out, err := r.API.CreateLocationHdfs(ctx, &ds.CreateLocationHdfsInput{
			NameNodes:    []types.HdfsNameNode{{Hostname: aws.String(s.Host), Port: aws.Int32(s.Port)}},
			Subdirectory: aws.String(s.Path), AgentArns: o.AgentArns,
			AuthenticationType: types.HdfsAuthenticationTypeSimple, SimpleUser: aws.String(s.User), Tags: t,
		})
		if err != nil {
			return "", false, apiErr("CreateLocationHdfs", err)
		}
		return aws.ToString(out.LocationArn), false, nil
	default: // ObjectStorage
		in := &ds.CreateLocationObjectStorageInput{
			ServerHostname: aws.String(s.Host), BucketName: aws.String(s.Bucket), Subdirectory: aws.String(s.Path),
			ServerProtocol: types.ObjectStorageServerProtocol(o.ObjectProtocol), AgentArns: o.AgentArns, Tags: t,
		}
		if s.Port != 0 {
			in.ServerPort = aws.Int32(s.Port)
		}
		if o.ObjectAccessKey != "" {
			in.AccessKey, in.SecretKey = aws.String(o.ObjectAccessKey), aws.String(o.ObjectSecretKey)
		}
		out, err := r.API.CreateLocationObjectStorage(ctx, in)
		if err != nil {
			return "", false, apiErr("CreateLocationObjectStorage", err)
		}
		return aws.ToString(out.LocationArn), false, nil
	}
}

func (r *Runner) ensureDest(ctx context.Context, o Options) (string, bool, error) {
	ident := destID(o)
	arn, err := r.findLocation(ctx, "s3://"+o.Dest.Bucket+"/", ident)
	if err != nil || arn != "" {
		return arn, arn != "", err
	}
	out, err := r.API.CreateLocationS3(ctx, &ds.CreateLocationS3Input{
		S3BucketArn:    aws.String(bucketArn(o.Region, o.Dest.Bucket)),
		Subdirectory:   aws.String(subdir(o.Dest.Prefix)),
		S3Config:       &types.S3Config{BucketAccessRoleArn: aws.String(o.BucketAccessRoleArn)},
		S3StorageClass: types.S3StorageClass(o.StorageClass),
		Tags:           tags(ident, "destination"),
	})
	if err != nil {
		return "", false, apiErr("CreateLocationS3", err)
	}
	return aws.ToString(out.LocationArn), false, nil
}

func (r *Runner) ensureTask(ctx context.Context, o Options, srcArn, dstArn string) (string, bool, error) {
	ident := taskID(o, srcArn, dstArn)
	arn, err := r.findTask(ctx, srcArn, ident)
	if err != nil || arn != "" {
		return arn, arn != "", err
	}
	out, err := r.API.CreateTask(ctx, &ds.CreateTaskInput{
		SourceLocationArn:      aws.String(srcArn),
		DestinationLocationArn: aws.String(dstArn),
		Name:                   aws.String("airlift-" + ident),
		Options:                taskOptions(o),
		Includes:               filterRules(o.Includes),
		Excludes:               filterRules(o.Excludes),
		TaskMode:               types.TaskMode(o.TaskMode),
		TaskReportConfig:       reportConfig(o),
		Tags:                   tags(ident, "task"),
	})
	if err != nil {
		return "", false, apiErr("CreateTask", err)
	}
	return aws.ToString(out.TaskArn), false, nil
}

func taskOptions(o Options) *types.Options {
	opt := &types.Options{
		VerifyMode:           types.VerifyMode(o.VerifyMode),
		TransferMode:         types.TransferModeChanged,
		OverwriteMode:        types.OverwriteMode(o.OverwriteMode),
		PreserveDeletedFiles: types.PreserveDeletedFilesPreserve,
	}
	if o.Delete {
		opt.PreserveDeletedFiles = types.PreserveDeletedFilesRemove
	}
	if o.BytesPerSecond > 0 {
		opt.BytesPerSecond = aws.Int64(o.BytesPerSecond)
	} else if o.TaskMode != string(types.TaskModeEnhanced) {
		// -1 is DataSync's "no limit"; sent explicitly so that an
		// override clears a limit an earlier run set.
		opt.BytesPerSecond = aws.Int64(-1)
	}
	return opt
}

// filterRules joins patterns into DataSync's one "a|b|c" simple pattern.
func filterRules(patterns []string) []types.FilterRule {
	if len(patterns) == 0 {
		return nil
	}
	return []types.FilterRule{{FilterType: types.FilterTypeSimplePattern, Value: aws.String(strings.Join(patterns, "|"))}}
}

func reportConfig(o Options) *types.TaskReportConfig {
	if o.ReportTo == "" {
		return nil
	}
	d, _ := ParseDest(o.ReportTo) // checked by Validate
	return &types.TaskReportConfig{
		Destination: &types.ReportDestination{S3: &types.ReportDestinationS3{
			S3BucketArn:         aws.String(bucketArn(o.Region, d.Bucket)),
			Subdirectory:        aws.String(subdir(d.Prefix)),
			BucketAccessRoleArn: aws.String(o.ReportRoleArn),
		}},
		OutputType:  types.ReportOutputTypeStandard,
		ReportLevel: types.ReportLevel(o.ReportLevel),
	}
}

// findLocation returns the location under uriPrefix tagged with ident, or
// "".
func (r *Runner) findLocation(ctx context.Context, uriPrefix, ident string) (string, error) {
	in := &ds.ListLocationsInput{Filters: []types.LocationFilter{{
		Name: types.LocationFilterNameLocationUri, Operator: types.OperatorBeginsWith, Values: []string{uriPrefix},
	}}}
	for {
		out, err := r.API.ListLocations(ctx, in)
		if err != nil {
			return "", apiErr("ListLocations", err)
		}
		for _, l := range out.Locations {
			ok, err := r.tagged(ctx, aws.ToString(l.LocationArn), ident)
			if err != nil || ok {
				return aws.ToString(l.LocationArn), err
			}
		}
		if aws.ToString(out.NextToken) == "" {
			return "", nil
		}
		in.NextToken = out.NextToken
	}
}

func (r *Runner) findTask(ctx context.Context, srcArn, ident string) (string, error) {
	in := &ds.ListTasksInput{Filters: []types.TaskFilter{{
		Name: types.TaskFilterNameLocationId, Operator: types.OperatorEq, Values: []string{srcArn},
	}}}
	for {
		out, err := r.API.ListTasks(ctx, in)
		if err != nil {
			return "", apiErr("ListTasks", err)
		}
		for _, t := range out.Tasks {
			ok, err := r.tagged(ctx, aws.ToString(t.TaskArn), ident)
			if err != nil || ok {
				return aws.ToString(t.TaskArn), err
			}
		}
		if aws.ToString(out.NextToken) == "" {
			return "", nil
		}
		in.NextToken = out.NextToken
	}
}

func (r *Runner) tagged(ctx context.Context, arn, ident string) (bool, error) {
	in := &ds.ListTagsForResourceInput{ResourceArn: aws.String(arn)}
	for {
		out, err := r.API.ListTagsForResource(ctx, in)
		if err != nil {
			return false, apiErr("ListTagsForResource "+arn, err)
		}
		for _, t := range out.Tags {
			if aws.ToString(t.Key) == TagID && aws.ToString(t.Value) == ident {
				return true, nil
			}
		}
		if aws.ToString(out.NextToken) == "" {
			return false, nil
		}
		in.NextToken = out.NextToken
	}
}
