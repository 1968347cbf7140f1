package iam

import (
	"errors"
	"testing"

	"github.com/airlift-io/airlift/internal/outcome"
)

func TestAllows(t *testing.T) {
	obj := func(a, key string) Request { return Request{Action: a, Resource: "arn:aws:s3:::bkt/" + key} }
	list := func(prefix *string) Request {
		r := Request{Action: "s3:ListBucket", Resource: "arn:aws:s3:::bkt", Context: map[string]string{}}
		if prefix != nil {
			r.Context["s3:prefix"] = *prefix
		}
		return r
	}
	str := func(s string) *string { return &s }
	cases := []struct {
		name string
		cmd  string
		o    Options
		r    Request
		want bool
	}{
		{"copy puts under the prefix", "copy", Options{Prefix: "data"}, obj("s3:PutObject", "data/a/b.bin"), true},
		{"copy puts nothing beside the prefix", "copy", Options{Prefix: "data"}, obj("s3:PutObject", "database/x"), false},
		{"copy puts nothing elsewhere", "copy", Options{Prefix: "data/"}, obj("s3:PutObject", "other/x"), false},
		{"action names are case-insensitive", "copy", Options{Prefix: "data"}, obj("S3:PUTOBJECT", "data/x"), true},
		{"copy deletes nothing", "copy", Options{Prefix: "data"}, obj("s3:DeleteObject", "data/x"), false},
		{"sync deletes nothing without --delete", "sync", Options{Prefix: "data"}, obj("s3:DeleteObject", "data/x"), false},
		{"sync --delete deletes under the prefix", "sync", Options{Prefix: "data", Delete: true}, obj("s3:DeleteObject", "data/x"), true},
		{"verify writes nothing", "verify", Options{Prefix: "data"}, obj("s3:PutObject", "data/x"), false},
		{"verify reads tags", "verify", Options{Prefix: "data"}, obj("s3:GetObjectTagging", "data/x"), true},
		{"listing the prefix", "download", Options{Prefix: "data"}, list(str("data/")), true},
		{"listing under the prefix", "download", Options{Prefix: "data"}, list(str("data/sub/")), true},
		{"listing another prefix", "download", Options{Prefix: "data"}, list(str("other/")), false},
		{"listing with an empty prefix", "download", Options{Prefix: "data"}, list(str("")), false},
		{"HeadBucket carries no prefix", "download", Options{Prefix: "data"}, list(nil), true},
		{"a whole-bucket policy lists all", "download", Options{}, list(str("")), true},
		{"cleanup lists uploads", "cleanup", Options{Prefix: "data"},
			Request{Action: "s3:ListBucketMultipartUploads", Resource: "arn:aws:s3:::bkt"}, true},
		{"verify lists no uploads", "verify", Options{Prefix: "data"},
			Request{Action: "s3:ListBucketMultipartUploads", Resource: "arn:aws:s3:::bkt"}, false},
		{"another bucket", "copy", Options{Prefix: "data"},
			Request{Action: "s3:PutObject", Resource: "arn:aws:s3:::bkt2/data/x"}, false},
		{"the KMS key", "copy", Options{Prefix: "d", SSE: "aws:kms", KMSKeyID: "k-1"},
			Request{Action: "kms:GenerateDataKey", Resource: "arn:aws:kms:us-east-1:111122223333:key/k-1"}, true},
		{"another KMS key", "copy", Options{Prefix: "d", SSE: "aws:kms", KMSKeyID: "k-1"},
			Request{Action: "kms:GenerateDataKey", Resource: "arn:aws:kms:us-east-1:111122223333:key/k-2"}, false},
		{"verify never makes data keys", "verify", Options{Prefix: "d", SSE: "aws:kms", KMSKeyID: "k-1"},
			Request{Action: "kms:GenerateDataKey", Resource: "arn:aws:kms:us-east-1:111122223333:key/k-1"}, false},
		{"PassRole to DataSync", "datasync", Options{RoleARN: "arn:aws:iam::1:role/r"},
			Request{Action: "iam:PassRole", Resource: "arn:aws:iam::1:role/r", Context: map[string]string{"iam:PassedToService": "datasync.amazonaws.com"}}, true},
		{"PassRole to another service", "datasync", Options{RoleARN: "arn:aws:iam::1:role/r"},
			Request{Action: "iam:PassRole", Resource: "arn:aws:iam::1:role/r", Context: map[string]string{"iam:PassedToService": "ec2.amazonaws.com"}}, false},
		{"PassRole of another role", "datasync", Options{RoleARN: "arn:aws:iam::1:role/r"},
			Request{Action: "iam:PassRole", Resource: "arn:aws:iam::1:role/admin", Context: map[string]string{"iam:PassedToService": "datasync.amazonaws.com"}}, false},
		{"datasync touches no object", "datasync", Options{RoleARN: "arn:aws:iam::1:role/r"}, obj("s3:PutObject", "x"), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.o.Bucket = "bkt"
			p, err := For(c.cmd, c.o)
			if err != nil {
				t.Fatal(err)
			}
			if _, got := p.Allows(c.r); got != c.want {
				t.Errorf("Allows(%+v) = %v, want %v", c.r, got, c.want)
			}
		})
	}
}

func TestForRefuses(t *testing.T) {
	cases := []struct {
		name   string
		cmd    string
		o      Options
		option string // the engine option at fault; "" for a plain usage error
	}{
		{"an unknown command", "rm", Options{Bucket: "bkt"}, ""},
		{"a key without aws:kms", "copy", Options{Bucket: "bkt", KMSKeyID: "k"}, "SSEKMSKeyID"},
		{"a KMS alias", "copy", Options{Bucket: "bkt", SSE: "aws:kms", KMSKeyID: "alias/x"}, "SSEKMSKeyID"},
		{"datasync without a role", "datasync", Options{Bucket: "bkt"}, "RoleARN"},
		{"datasync with a role that is no ARN", "datasync", Options{Bucket: "bkt", RoleARN: "r"}, "RoleARN"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := For(c.cmd, c.o)
			if outcome.Of(err) != outcome.Usage {
				t.Fatalf("err %v, want a usage error", err)
			}
			var oe *outcome.OptionError
			if c.option != "" && (!errors.As(err, &oe) || oe.Option != c.option) {
				t.Errorf("err %v does not name option %s", err, c.option)
			}
		})
	}
}

func TestGlobMatch(t *testing.T) {
	cases := []struct {
		pattern, s string
		want       bool
	}{
		{"a/*", "a/b/c", true}, // IAM's * crosses slashes
		{"a/*", "a/", true},
		{"a/*", "a", false},
		{"a?c", "abc", true},
		{"a?c", "ac", false},
		{"*", "", true},
		{"x*y*z", "x-y-y-z", true},
		{"abc", "abd", false},
	}
	for _, c := range cases {
		if got := globMatch(c.pattern, c.s); got != c.want {
			t.Errorf("globMatch(%q, %q) = %v, want %v", c.pattern, c.s, got, c.want)
		}
	}
}
