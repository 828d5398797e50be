package reports

import (
	"fmt"
	"html"
	"strings"

	"tollgate/reports/plot"
)

// document is a report in a form both renderers share: Markdown for
// report.md, HTML (with the figures inline as SVG) for report.html.
type document struct {
	title  string
	blocks []any
}

type heading struct {
	level int
	text  string
}

// para is a paragraph; **bold** is the only inline markup.
type para struct{ text string }

type list struct{ items []string }

type table struct {
	head []string
	// right marks right-aligned (numeric) columns.
	right []bool
	rows  [][]string
}

type figure struct {
	fig *plot.Figure
	// svg is the inline SVG, rendered once.
	svg string
}

func (d *document) h(level int, text string) { d.blocks = append(d.blocks, heading{level, text}) }
func (d *document) p(format string, args ...any) {
	d.blocks = append(d.blocks, para{fmt.Sprintf(format, args...)})
}
func (d *document) list(items ...string) { d.blocks = append(d.blocks, list{items}) }
func (d *document) table(t table)        { d.blocks = append(d.blocks, t) }
func (d *document) figure(f figure)      { d.blocks = append(d.blocks, f) }

// markdown renders d as GitHub-flavoured Markdown.
func (d *document) markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\n", d.title)
	for _, bl := range d.blocks {
		b.WriteString("\n")
		switch x := bl.(type) {
		case heading:
			fmt.Fprintf(&b, "%s %s\n", strings.Repeat("#", x.level), x.text)
		case para:
			fmt.Fprintf(&b, "%s\n", x.text)
		case list:
			for _, it := range x.items {
				fmt.Fprintf(&b, "- %s\n", it)
			}
		case table:
			b.WriteString("|")
			for _, h := range x.head {
				fmt.Fprintf(&b, " %s |", mdCell(h))
			}
			b.WriteString("\n|")
			for i := range x.head {
				if i < len(x.right) && x.right[i] {
					b.WriteString("---:|")
				} else {
					b.WriteString("---|")
				}
			}
			b.WriteString("\n")
			for _, r := range x.rows {
				b.WriteString("|")
				for _, c := range r {
					fmt.Fprintf(&b, " %s |", mdCell(c))
				}
				b.WriteString("\n")
			}
		case figure:
			fmt.Fprintf(&b, "![%s](%s.png)\n\n[SVG](%s.svg)\n", x.fig.Title, x.fig.Name, x.fig.Name)
		}
	}
	return b.String()
}

func mdCell(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "|", "\\|"), "\n", " ")
}

// inline escapes s for HTML and turns **x** into <strong>x</strong> and
// `x` into <code>x</code>.
func inline(s string) string {
	e := html.EscapeString(s)
	e = pairs(e, "**", "<strong>", "</strong>")
	e = pairs(e, "`", "<code>", "</code>")
	return e
}

func pairs(s, mark, open, close string) string {
	parts := strings.Split(s, mark)
	if len(parts) < 3 {
		return s
	}
	var b strings.Builder
	for i, p := range parts {
		if i > 0 {
			switch {
			case i == len(parts)-1 && i%2 == 1:
				b.WriteString(mark) // unmatched
			case i%2 == 1:
				b.WriteString(open)
			default:
				b.WriteString(close)
			}
		}
		b.WriteString(p)
	}
	return b.String()
}

const css = `body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Liberation Sans",sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222;line-height:1.45}
h1{font-size:1.6em;border-bottom:2px solid #0072b2;padding-bottom:.2em}
h2{font-size:1.25em;margin-top:1.8em;border-bottom:1px solid #ddd}
h3{font-size:1.05em}
table{border-collapse:collapse;margin:.6em 0;font-size:.92em}
th,td{border:1px solid #ccc;padding:.25em .6em;vertical-align:top}
th{background:#f3f6fa;text-align:left}
td.r{text-align:right;font-variant-numeric:tabular-nums}
figure{margin:1em 0}
figure svg{max-width:100%;height:auto;border:1px solid #eee}
figcaption{font-size:.9em;color:#555}
code{background:#f4f4f4;padding:0 .2em}
.fail{color:#b00;font-weight:bold}`

// html renders d as one self-contained page: styles inline, figures inline
// as SVG, no scripts and no remote assets.
func (d *document) html() string {
	var b strings.Builder
	b.WriteString("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n")
	b.WriteString("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n")
	fmt.Fprintf(&b, "<title>%s</title>\n<style>\n%s\n</style>\n</head>\n<body>\n", html.EscapeString(d.title), css)
	fmt.Fprintf(&b, "<h1>%s</h1>\n", inline(d.title))
	for _, bl := range d.blocks {
		switch x := bl.(type) {
		case heading:
			fmt.Fprintf(&b, "<h%d>%s</h%d>\n", x.level, inline(x.text), x.level)
		case para:
			fmt.Fprintf(&b, "<p>%s</p>\n", inline(x.text))
		case list:
			b.WriteString("<ul>\n")
			for _, it := range x.items {
				fmt.Fprintf(&b, "<li>%s</li>\n", inline(it))
			}
			b.WriteString("</ul>\n")
		case table:
			b.WriteString("<table>\n<thead><tr>")
			for _, h := range x.head {
				fmt.Fprintf(&b, "<th>%s</th>", inline(h))
			}
			b.WriteString("</tr></thead>\n<tbody>\n")
			for _, r := range x.rows {
				b.WriteString("<tr>")
				for i, c := range r {
					cls := ""
					if i < len(x.right) && x.right[i] {
						cls = ` class="r"`
					}
					if strings.Contains(c, "BREACH") || strings.Contains(c, "FAIL") || strings.Contains(c, "REGRESSION") {
						cls = ` class="fail"`
					}
					fmt.Fprintf(&b, "<td%s>%s</td>", cls, inline(c))
				}
				b.WriteString("</tr>\n")
			}
			b.WriteString("</tbody>\n</table>\n")
		case figure:
			fmt.Fprintf(&b, "<figure>\n%s\n<figcaption>%s (also <a href=\"%s.png\">PNG</a>, <a href=\"%s.svg\">SVG</a>)</figcaption>\n</figure>\n",
				x.svg, html.EscapeString(x.fig.Title), x.fig.Name, x.fig.Name)
		}
	}
	b.WriteString("</body>\n</html>\n")
	return b.String()
}
