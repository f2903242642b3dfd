package web

import (
	"fmt"
	"html/template"
	"strings"
)

// BarChart is a stacked bar chart drawn as SVG on the server: no script,
// no chart library, nothing the Content-Security-Policy has to allow
// (colours are presentation attributes, not style).
type BarChart struct {
	// Title is the chart's accessible name.
	Title string
	// Labels name the bars (for example minutes); Series stack on them,
	// each with one value per label.
	Labels []string
	Series []Series
	// Width and Height in pixels (defaults 720 by 220).
	Width, Height int
}

// Series is one colour of a stacked bar chart.
type Series struct {
	Name   string
	Values []int
}

// palette is the series' colours, in order; the first is for successes.
var palette = []string{"#1e7a3c", "#b3261e", "#d97706", "#7c3aed", "#0e7490", "#be185d", "#4b5563", "#65a30d"}

// SVG renders the chart. Every name is escaped; the markup is built from
// numbers and escaped text only.
func (c BarChart) SVG() template.HTML {
	w, h := c.Width, c.Height
	if w <= 0 {
		w = 720
	}
	if h <= 0 {
		h = 220
	}
	const left, right, top, legend, bottom = 36, 8, 10, 18, 20
	plotH := h - top - bottom - legend
	plotW := w - left - right
	max := 0
	for i := range c.Labels {
		sum := 0
		for _, s := range c.Series {
			if i < len(s.Values) {
				sum += s.Values[i]
			}
		}
		max = maxInt(max, sum)
	}
	scale := niceCeil(max)
	esc := template.HTMLEscapeString
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" xmlns="http://www.w3.org/2000/svg" role="img" viewBox="0 0 %d %d" width="%d" height="%d"><title>%s</title>`, w, h, w, h, esc(c.Title))
	for _, frac := range []int{0, 2, 4} {
		y := top + plotH - plotH*frac/4
		fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#d9dee6"/><text x="%d" y="%d" text-anchor="end">%d</text>`,
			left, y, w-right, y, left-4, y+4, scale*frac/4)
	}
	if n := len(c.Labels); n > 0 {
		slot := float64(plotW) / float64(n)
		bw := slot * 0.8
		for i, label := range c.Labels {
			x := float64(left) + slot*float64(i) + (slot-bw)/2
			y := float64(top + plotH)
			for si, s := range c.Series {
				if i >= len(s.Values) || s.Values[i] == 0 {
					continue
				}
				bh := float64(plotH) * float64(s.Values[i]) / float64(scale)
				y -= bh
				fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s %s: %d</title></rect>`,
					x, y, bw, bh, palette[si%len(palette)], esc(label), esc(s.Name), s.Values[i])
			}
			if every := (n + 5) / 6; i%every == 0 {
				fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`, x+bw/2, top+plotH+14, esc(label))
			}
		}
	}
	x := left
	for si, s := range c.Series {
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="10" height="10" fill="%s"/><text x="%d" y="%d">%s</text>`,
			x, h-12, palette[si%len(palette)], x+14, h-3, esc(s.Name))
		x += 24 + 7*len(s.Name)
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// niceCeil rounds the chart's scale up to 4 times 1, 2 or 5 times a power
// of ten, so that the axis (quarters of it) shows whole, round numbers.
func niceCeil(n int) int {
	for p := 1; ; p *= 10 {
		for _, m := range []int{1, 2, 5} {
			if 4*m*p >= n {
				return 4 * m * p
			}
		}
	}
}

func maxInt(a, b int) int {
	if a > b {
		return a
	}
	return b
}
