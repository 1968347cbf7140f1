package transfer

import "testing"

func TestPlanParts(t *testing.T) {
	const MiB = 1 << 20
	cases := []struct {
		name      string
		size      int64
		want      int64
		partSize  int64
		count     int
		multipart bool
		wantErr   bool
	}{
		{"empty file is one PUT", 0, 0, 0, 1, false, false},
		{"at the part size is one PUT", 8 * MiB, 0, 8 * MiB, 1, false, false},
		{"one byte over is two parts", 8*MiB + 1, 0, 8 * MiB, 2, true, false},
		{"exactly 5 MiB with 5 MiB parts", 5 * MiB, 5 * MiB, 5 * MiB, 1, false, false},
		{"5 MiB + 1 with 5 MiB parts", 5*MiB + 1, 5 * MiB, 5 * MiB, 2, true, false},
		{"too small a part size is raised to 5 MiB", 20 * MiB, 1 * MiB, 5 * MiB, 4, true, false},
		{"just under 256 MiB keeps 8 MiB parts", 256*MiB - 1, 0, 8 * MiB, 32, true, false},
		{"256 MiB and up take 16 MiB parts", 256 * MiB, 0, 16 * MiB, 16, true, false},
		{"a part size given wins for large files", 1 << 30, 8 * MiB, 8 * MiB, 128, true, false},
		{"1 TiB fits in 10,000 parts", 1 << 40, 0, 105 * MiB, 9987, true, false},
		{"5 TiB, the largest object, fits", MaxObjectSize, 0, 525 * MiB, 9987, true, false},
		{"over 5 TiB is refused", MaxObjectSize + 1, 0, 0, 0, false, true},
		{"negative is refused", -1, 0, 0, 0, false, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := PlanParts(c.size, c.want)
			if (err != nil) != c.wantErr {
				t.Fatalf("err = %v", err)
			}
			if err != nil {
				return
			}
			if p.PartSize != c.partSize || p.Count != c.count || p.Multipart != c.multipart {
				t.Fatalf("PlanParts(%d, %d) = %+v; want part %d, count %d, multipart %v", c.size, c.want, p, c.partSize, c.count, c.multipart)
			}
			if p.Count > MaxParts {
				t.Fatalf("%d parts, over the limit", p.Count)
			}
			var total int64
			for i := 0; i < p.Count; i++ {
				off, n := p.Part(i)
				if off != total || n <= 0 && p.Size > 0 {
					t.Fatalf("part %d at %d+%d, want offset %d", i, off, n, total)
				}
				if p.Multipart && i < p.Count-1 && n < MinPartSize {
					t.Fatalf("part %d is %d bytes, under S3's minimum", i, n)
				}
				total += n
			}
			if total != c.size {
				t.Fatalf("parts cover %d bytes of %d", total, c.size)
			}
		})
	}
}
