package snowball

import (
	"strings"
	"testing"
)

func TestNewPlan(t *testing.T) {
	cases := []struct {
		name    string
		o       Options
		devices int
		typ     string
		err     string
	}{
		{"one device", Options{Bucket: "b", DatasetBytes: 100 * tb}, 1, "V3_5S", ""},
		{"exactly full", Options{Bucket: "b", DatasetBytes: 210 * tb}, 1, "V3_5S", ""},
		{"one byte over", Options{Bucket: "b", DatasetBytes: 210*tb + 1}, 2, "V3_5S", ""},
		{"80 TB devices", Options{Bucket: "b", DatasetBytes: 500 * tb, DeviceType: "edge_s"}, 7, "EDGE_S", ""},
		{"usable override", Options{Bucket: "b", DatasetBytes: 100 * tb, UsableBytes: 30 * tb}, 4, "V3_5S", ""},
		{"no bucket", Options{DatasetBytes: 1}, 0, "", "--bucket"},
		{"no size", Options{Bucket: "b"}, 0, "", "--dataset-bytes"},
		{"bad type", Options{Bucket: "b", DatasetBytes: 1, DeviceType: "SNOWMOBILE"}, 0, "", "unknown --device-type"},
		{"empty range", Options{Bucket: "b", DatasetBytes: 1, BeginMarker: "z", EndMarker: "a"}, 0, "", "empty"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := NewPlan(c.o)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err = %v, want %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.DeviceCount != c.devices || p.Spec.SnowballType != c.typ || p.Spec.JobType != "IMPORT" {
				t.Errorf("plan %+v", p)
			}
		})
	}
}

func TestPlaceholdersAndPartition(t *testing.T) {
	p, err := NewPlan(Options{Bucket: "b", DatasetBytes: 1, Region: "cn-north-1"})
	if err != nil {
		t.Fatal(err)
	}
	if p.Spec.Resources.S3Resources[0].BucketArn != "arn:aws-cn:s3:::b" || !strings.HasPrefix(p.Spec.RoleARN, "arn:aws-cn:iam::") ||
		!strings.HasPrefix(p.Spec.KmsKeyARN, "arn:aws-cn:kms:cn-north-1:") || len(p.Spec.AddressID) != 40 {
		t.Errorf("spec %+v", p.Spec)
	}
	if p.Spec.Resources.S3Resources[0].KeyRange != nil {
		t.Error("key range set without markers")
	}
}
