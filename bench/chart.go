package bench

import (
	"fmt"
	"html"
	"io"
	"math"
	"sort"
	"strings"
)

// WriteSVG draws throughput against concurrency, one line per part size,
// as a self-contained SVG a browser shows as is. Concurrency is spaced
// by its logarithm, since grids double or quadruple it.
func WriteSVG(w io.Writer, r *Result) error {
	const (
		width, height          = 720, 440
		left, right, top, bott = 80, 170, 50, 60
	)
	pw, ph := float64(width-left-right), float64(height-top-bott)
	series := map[int64][]Cell{}
	concs := map[int]bool{}
	var maxY float64
	for _, c := range r.Grid {
		series[c.PartSize] = append(series[c.PartSize], c)
		concs[c.Concurrency] = true
		maxY = math.Max(maxY, c.BytesPerSec/1e6)
	}
	var xs []int
	for c := range concs {
		xs = append(xs, c)
	}
	sort.Ints(xs)
	var sizes []int64
	for s := range series {
		sizes = append(sizes, s)
	}
	sort.Slice(sizes, func(i, j int) bool { return sizes[i] < sizes[j] })
	yMax := niceCeil(maxY)
	lx0, lx1 := 0.0, 1.0
	if len(xs) > 0 {
		lx0, lx1 = math.Log2(float64(xs[0])), math.Log2(float64(xs[len(xs)-1]))
	}
	if lx1 == lx0 {
		lx0, lx1 = lx0-1, lx1+1
	}
	px := func(c int) float64 { return left + (math.Log2(float64(c))-lx0)/(lx1-lx0)*pw }
	py := func(mbps float64) float64 { return top + ph - mbps/yMax*ph }

	var b strings.Builder
	fmt.Fprintf(&b, `<?xml version="1.0" encoding="UTF-8"?>`+"\n")
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", width, height, width, height)
	fmt.Fprintf(&b, `<title>airlift bench: upload throughput to %s</title>`+"\n", html.EscapeString(r.Target))
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&b, `<text x="%d" y="24" font-size="15">Upload throughput vs concurrency (%s, run %s)</text>`+"\n", left, html.EscapeString(r.Target), html.EscapeString(r.RunID))
	// Grid lines and y ticks.
	for i := 0; i <= 5; i++ {
		v := yMax * float64(i) / 5
		y := py(v)
		fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#ddd"/>`+"\n", left, y, left+pw, y)
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end">%s</text>`+"\n", left-8, y+4, trimFloat(v))
	}
	for _, c := range xs {
		x := px(c)
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%.1f" stroke="#eee"/>`+"\n", x, top, x, top+ph)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle">%d</text>`+"\n", x, top+ph+18, c)
	}
	fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%.1f" y2="%.1f" stroke="black"/>`+"\n", left, top+ph, left+pw, top+ph)
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%.1f" stroke="black"/>`+"\n", left, top, left, top+ph)
	fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">Concurrency (parts in flight)</text>`+"\n", left+pw/2, height-15)
	fmt.Fprintf(&b, `<text x="20" y="%.1f" text-anchor="middle" transform="rotate(-90 20 %.1f)">Throughput (MB/s)</text>`+"\n", top+ph/2, top+ph/2)

	colors := []string{"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"}
	for i, s := range sizes {
		cells := series[s]
		sort.Slice(cells, func(a, b int) bool { return cells[a].Concurrency < cells[b].Concurrency })
		col := colors[i%len(colors)]
		label := fmt.Sprintf("part %d MiB", s>>20)
		fmt.Fprintf(&b, `<g class="series" data-part-size="%d">`+"\n", s)
		var pts []string
		for _, c := range cells {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", px(c.Concurrency), py(c.BytesPerSec/1e6)))
		}
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2" points="%s"><title>%s</title></polyline>`+"\n", col, strings.Join(pts, " "), label)
		for _, c := range cells {
			fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="3" fill="%s"><title>%s, concurrency %d: %.1f MB/s</title></circle>`+"\n",
				px(c.Concurrency), py(c.BytesPerSec/1e6), col, label, c.Concurrency, c.BytesPerSec/1e6)
		}
		ly := top + 10 + i*20
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="%s" stroke-width="2"/>`+"\n", left+pw+15, ly, left+pw+40, ly, col)
		fmt.Fprintf(&b, `<text x="%.1f" y="%d">%s</text>`+"\n", left+pw+46, ly+4, label)
		fmt.Fprintf(&b, "</g>\n")
	}
	fmt.Fprintf(&b, "</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// niceCeil rounds v up to 1, 2 or 5 times a power of ten, for axis ticks.
func niceCeil(v float64) float64 {
	if !(v > 0) {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}

func trimFloat(v float64) string {
	s := fmt.Sprintf("%.2f", v)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	return s
}
