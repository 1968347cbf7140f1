package datasync

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	ds "github.com/aws/aws-sdk-go-v2/service/datasync"
)

// Request is one DataSync call a dry run would make: the operation (the
// X-Amz-Target suffix) and its input, with secrets redacted.
type Request struct {
	Operation string `json:"operation"`
	Input     any    `json:"input"`
}

// DryRun returns the requests a first run with o would send to create
// its resources and start the execution, without contacting DataSync. A
// real run first looks for resources tagged airlift:id and reuses them.
func DryRun(o Options) ([]Request, error) {
	rec := &recorder{}
	r := &Runner{API: rec}
	_, start, err := r.prepare(context.Background(), o)
	if err != nil {
		return nil, err
	}
	rec.add("StartTaskExecution", start)
	return rec.reqs, nil
}

const redacted = "REDACTED"

// recorder is an API that finds nothing and records what would be
// created; reads are not recorded.
type recorder struct {
	reqs []Request
	n    int
}

func (r *recorder) add(op string, in any) {
	r.reqs = append(r.reqs, Request{Operation: op, Input: prune(in)})
}

// prune turns an SDK input into the JSON object DataSync would receive:
// unset fields (nil, "", empty lists) are left out, as the SDK's
// serializer leaves them out.
func prune(in any) any {
	b, err := json.Marshal(in)
	if err != nil {
		return in
	}
	var v any
	if json.Unmarshal(b, &v) != nil {
		return in
	}
	return pruneValue(v)
}

func pruneValue(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			e = pruneValue(e)
			if e == nil {
				delete(t, k)
			} else {
				t[k] = e
			}
		}
		if len(t) == 0 {
			return nil
		}
	case []any:
		if len(t) == 0 {
			return nil
		}
		for i := range t {
			t[i] = pruneValue(t[i])
		}
	case string:
		if t == "" {
			return nil
		}
	}
	return v
}

func (r *recorder) arn(kind string) *string {
	r.n++
	short := map[string]string{"location": "location/loc", "task": "task/task", "execution": "task/task-dryrun/execution/exec"}[kind]
	return aws.String(fmt.Sprintf("arn:aws:datasync:REGION:ACCOUNT:%s-dryrun%d", short, r.n))
}

func (r *recorder) ListLocations(context.Context, *ds.ListLocationsInput, ...func(*ds.Options)) (*ds.ListLocationsOutput, error) {
	return &ds.ListLocationsOutput{}, nil
}

func (r *recorder) ListTasks(context.Context, *ds.ListTasksInput, ...func(*ds.Options)) (*ds.ListTasksOutput, error) {
	return &ds.ListTasksOutput{}, nil
}

func (r *recorder) ListTagsForResource(context.Context, *ds.ListTagsForResourceInput, ...func(*ds.Options)) (*ds.ListTagsForResourceOutput, error) {
	return &ds.ListTagsForResourceOutput{}, nil
}

func (r *recorder) CreateLocationNfs(_ context.Context, in *ds.CreateLocationNfsInput, _ ...func(*ds.Options)) (*ds.CreateLocationNfsOutput, error) {
	r.add("CreateLocationNfs", in)
	return &ds.CreateLocationNfsOutput{LocationArn: r.arn("location")}, nil
}

func (r *recorder) CreateLocationSmb(_ context.Context, in *ds.CreateLocationSmbInput, _ ...func(*ds.Options)) (*ds.CreateLocationSmbOutput, error) {
	c := *in
	if c.Password != nil {
		c.Password = aws.String(redacted)
	}
	r.add("CreateLocationSmb", &c)
	return &ds.CreateLocationSmbOutput{LocationArn: r.arn("location")}, nil
}

func (r *recorder) CreateLocationHdfs(_ context.Context, in *ds.CreateLocationHdfsInput, _ ...func(*ds.Options)) (*ds.CreateLocationHdfsOutput, error) {
	r.add("CreateLocationHdfs", in)
	return &ds.CreateLocationHdfsOutput{LocationArn: r.arn("location")}, nil
}

func (r *recorder) CreateLocationObjectStorage(_ context.Context, in *ds.CreateLocationObjectStorageInput, _ ...func(*ds.Options)) (*ds.CreateLocationObjectStorageOutput, error) {
	c := *in
	if c.SecretKey != nil {
		c.SecretKey = aws.String(redacted)
	}
	r.add("CreateLocationObjectStorage", &c)
	return &ds.CreateLocationObjectStorageOutput{LocationArn: r.arn("location")}, nil
}

func (r *recorder) CreateLocationS3(_ context.Context, in *ds.CreateLocationS3Input, _ ...func(*ds.Options)) (*ds.CreateLocationS3Output, error) {
	r.add("CreateLocationS3", in)
	return &ds.CreateLocationS3Output{LocationArn: r.arn("location")}, nil
}

func (r *recorder) CreateTask(_ context.Context, in *ds.CreateTaskInput, _ ...func(*ds.Options)) (*ds.CreateTaskOutput, error) {
	r.add("CreateTask", in)
	return &ds.CreateTaskOutput{TaskArn: r.arn("task")}, nil
}

func (r *recorder) StartTaskExecution(_ context.Context, in *ds.StartTaskExecutionInput, _ ...func(*ds.Options)) (*ds.StartTaskExecutionOutput, error) {
	r.add("StartTaskExecution", in)
	return &ds.StartTaskExecutionOutput{TaskExecutionArn: r.arn("execution")}, nil
}

func (r *recorder) DescribeTaskExecution(context.Context, *ds.DescribeTaskExecutionInput, ...func(*ds.Options)) (*ds.DescribeTaskExecutionOutput, error) {
	return nil, fmt.Errorf("dry run: no execution to describe")
}

func (r *recorder) CancelTaskExecution(context.Context, *ds.CancelTaskExecutionInput, ...func(*ds.Options)) (*ds.CancelTaskExecutionOutput, error) {
	return &ds.CancelTaskExecutionOutput{}, nil
}

var _ API = (*recorder)(nil)
