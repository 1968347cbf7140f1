// Package iam writes the least-privilege IAM policy an airlift command
// needs for one bucket and prefix, and evaluates a policy against a
// request the way IAM does for the parts airlift uses (Allow statements,
// action and resource wildcards, string conditions), so that a test can
// hold the printed policy to the requests a command really makes.
package iam

import (
	"slices"
	"strings"

	"github.com/airlift-io/airlift/internal/outcome"
)

// Commands are the airlift commands a policy can be written for, in the
// order the CLI lists them.
var Commands = []string{"copy", "sync", "verify", "download", "cleanup", "bench", "datasync"}

// Options describe what the command will be run with.
type Options struct {
	Bucket string
	// Prefix is where in the bucket the command works; a folder: "data"
	// and "data/" both scope the policy to the keys under "data/".
	Prefix string
	// Delete: sync --delete removes objects.
	Delete bool
	// SSE and KMSKeyID: objects written (and read) under SSE-KMS with a
	// customer managed key need the key's permissions too. The AWS
	// managed key (aws/s3, no key id) is usable by anyone in the account
	// S3 lets in, so it needs no statement.
	SSE, KMSKeyID string
	// RoleARN is the role DataSync assumes (datasync --role-arn).
	RoleARN string
	// Partition of the ARNs: aws (default), aws-cn, aws-us-gov.
	Partition string
}

// Policy is an IAM policy document.
type Policy struct {
	Version   string      `json:"Version"`
	Statement []Statement `json:"Statement"`
}

// Statement is one Allow statement. Condition maps an operator
// (StringLike, StringEquals, ...IfExists) to condition keys and the
// values any of which may match.
type Statement struct {
	Sid       string                         `json:"Sid"`
	Effect    string                         `json:"Effect"`
	Action    []string                       `json:"Action"`
	Resource  []string                       `json:"Resource"`
	Condition map[string]map[string][]string `json:"Condition,omitempty"`
}

// The S3 actions each command's requests map to, as AWS documents the
// operations (PutObject, CreateMultipartUpload, UploadPart and
// CompleteMultipartUpload are s3:PutObject; HeadObject and GetObject are
// s3:GetObject; HeadBucket and ListObjects are s3:ListBucket).
var (
	// Uploads: single PUTs and multipart uploads, the BLAKE3 tag of a
	// multipart object, the HEAD and part listing that resume an upload
	// and recover a lost Complete, and the abort that frees the parts of
	// an upload that cannot finish.
	uploadActions = []string{"s3:PutObject", "s3:PutObjectTagging", "s3:GetObject", "s3:ListMultipartUploadParts", "s3:AbortMultipartUpload"}
	// Reads: listings are bucket-level; the objects' contents, sizes and
	// their BLAKE3 tags are object-level.
	readActions = []string{"s3:GetObject", "s3:GetObjectTagging"}
)

// objectActions lists the object-level actions of cmd, and whether it
// lists the multipart uploads in progress (a bucket-level action).
func objectActions(cmd string, o Options) (actions []string, listUploads bool, err error) {
	switch cmd {
	case "copy":
		// ListMultipartUploads finds the upload a lost (retried) Create
		// response may have left, to abort it.
		actions, listUploads = uploadActions, true
	case "sync":
		actions, listUploads = union(uploadActions, readActions), true
		if o.Delete {
			actions = union(actions, []string{"s3:DeleteObject"})
		}
	case "verify", "download":
		actions = readActions
	case "cleanup":
		actions, listUploads = []string{"s3:AbortMultipartUpload"}, true
	case "bench":
		// bench writes its test objects under the prefix, reads their
		// heads, and removes them (and any upload it left) at the end.
		actions, listUploads = []string{"s3:PutObject", "s3:GetObject", "s3:AbortMultipartUpload", "s3:DeleteObject"}, true
	default:
		return nil, false, outcome.Usagef("no policy for command %q (want one of %s)", cmd, strings.Join(Commands, ", "))
	}
	return actions, listUploads, nil
}

// For returns the policy cmd needs with o.
func For(cmd string, o Options) (Policy, error) {
	if o.Bucket == "" {
		return Policy{}, outcome.Usagef("no bucket")
	}
	part := o.Partition
	if part == "" {
		part = "aws"
	}
	p := Policy{Version: "2012-10-17"}
	if cmd == "datasync" {
		return dataSync(p, o)
	}
	actions, listUploads, err := objectActions(cmd, o)
	if err != nil {
		return Policy{}, err
	}
	bucketARN := "arn:" + part + ":s3:::" + o.Bucket
	prefix := Folder(o.Prefix)
	list := Statement{Sid: "ListThePrefix", Effect: "Allow", Action: []string{"s3:ListBucket"}, Resource: []string{bucketARN}}
	if prefix != "" {
		// HeadBucket (the preflight every command makes) is s3:ListBucket
		// too but carries no prefix, and IAM cannot tell it from a
		// listing without one: IfExists lets it through. A listing
		// with a prefix outside this one is refused.
		list.Condition = map[string]map[string][]string{
			"StringLikeIfExists": {"s3:prefix": {prefix + "*"}}, // * matches nothing too
		}
	}
	p.Statement = append(p.Statement, list)
	if listUploads {
		// ListMultipartUploads has no prefix condition key in IAM.
		p.Statement = append(p.Statement, Statement{Sid: "ListUploadsInProgress", Effect: "Allow",
			Action: []string{"s3:ListBucketMultipartUploads"}, Resource: []string{bucketARN}})
	}
	p.Statement = append(p.Statement, Statement{Sid: "ObjectsUnderThePrefix", Effect: "Allow",
		Action: sorted(actions), Resource: []string{bucketARN + "/" + prefix + "*"}})
	if kms, ok, err := kmsStatement(cmd, part, o); err != nil {
		return Policy{}, err
	} else if ok {
		p.Statement = append(p.Statement, kms)
	}
	return p, nil
}

// Folder is prefix as the folder airlift treats it as: "" or ending in "/".
func Folder(prefix string) string {
	if prefix == "" || strings.HasSuffix(prefix, "/") {
		return prefix
	}
	return prefix + "/"
}

// kmsStatement is what S3 needs from KMS on the caller's behalf: a data
// key for each object written, and Decrypt to read an object back and to
// complete a multipart upload (S3 reads the parts' data key).
func kmsStatement(cmd, part string, o Options) (Statement, bool, error) {
	if o.SSE != "aws:kms" && o.SSE != "aws:kms:dsse" {
		if o.KMSKeyID != "" {
			return Statement{}, false, outcome.BadOption("SSEKMSKeyID", "a KMS key id needs {SSE} aws:kms")
		}
		return Statement{}, false, nil
	}
	if o.KMSKeyID == "" {
		return Statement{}, false, nil
	}
	var key string
	switch {
	case strings.HasPrefix(o.KMSKeyID, "arn:"):
		key = o.KMSKeyID
	case strings.HasPrefix(o.KMSKeyID, "alias/"):
		return Statement{}, false, outcome.BadOption("SSEKMSKeyID", "KMS key %q is an alias: IAM grants on keys, so give the key's ARN or id", o.KMSKeyID)
	default:
		key = "arn:" + part + ":kms:*:*:key/" + o.KMSKeyID
	}
	var actions []string
	switch cmd {
	case "copy", "sync", "bench":
		actions = []string{"kms:Decrypt", "kms:GenerateDataKey"}
	case "verify", "download":
		actions = []string{"kms:Decrypt"}
	default:
		return Statement{}, false, nil // cleanup reads no object
	}
	return Statement{Sid: "UseTheKMSKey", Effect: "Allow", Action: actions, Resource: []string{key}}, true, nil
}

// dataSync is the policy for `airlift datasync` (and copy --via
// datasync): the DataSync API, on resources whose ARNs DataSync makes up
// (and whose List calls take no resource), and passing the bucket access
// role to DataSync alone. The role's own permissions on the bucket are
// the role's policy, not the caller's.
func dataSync(p Policy, o Options) (Policy, error) {
	if o.RoleARN == "" {
		return Policy{}, outcome.BadOption("RoleARN", "a DataSync policy needs the role DataSync assumes (its ARN)")
	}
	if !strings.HasPrefix(o.RoleARN, "arn:") || !strings.Contains(o.RoleARN, ":iam::") {
		return Policy{}, outcome.BadOption("RoleARN", "role %q is not an IAM role ARN", o.RoleARN)
	}
	p.Statement = append(p.Statement,
		Statement{Sid: "RunDataSyncTasks", Effect: "Allow", Action: []string{
			// Locations and tasks are found again by their airlift:id tag,
			// and created with it (tagging at creation is TagResource).
			"datasync:CancelTaskExecution", "datasync:CreateLocationHdfs", "datasync:CreateLocationNfs",
			"datasync:CreateLocationObjectStorage", "datasync:CreateLocationS3", "datasync:CreateLocationSmb",
			"datasync:CreateTask", "datasync:DescribeTaskExecution", "datasync:ListLocations",
			"datasync:ListTagsForResource", "datasync:ListTasks", "datasync:StartTaskExecution", "datasync:TagResource",
		}, Resource: []string{"*"}},
		Statement{Sid: "PassTheBucketRoleToDataSync", Effect: "Allow", Action: []string{"iam:PassRole"},
			Resource:  []string{o.RoleARN},
			Condition: map[string]map[string][]string{"StringEquals": {"iam:PassedToService": {"datasync.amazonaws.com"}}}},
	)
	return p, nil
}

func union(a, b []string) []string {
	out := slices.Clone(a)
	for _, s := range b {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}
