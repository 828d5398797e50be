package loadgen

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
)

// Row is one line of the report table: a run, and any extra cells for the
// extra columns the caller names.
type Row struct {
	Run   *Run
	Extra []string
}

// Table writes the report table as Markdown: per run the offered rate, the
// attempts, the 2xx answers and their throughput, the 2xx latency
// percentiles from the HDR histogram (p50, p90, p99, p99.9, max), the errors
// by kind, then the extra columns.
func Table(w io.Writer, extra []string, rows []Row) error {
	head := append([]string{"run", "offered rate", "sent", "2xx", "2xx/s", "p50", "p90", "p99", "p99.9", "max", "errors"}, extra...)
	var b strings.Builder
	b.WriteString("| " + strings.Join(head, " | ") + " |\n|")
	for i := range head {
		if i == 0 || i == 10 {
			b.WriteString("---|")
		} else {
			b.WriteString("---:|")
		}
	}
	b.WriteString("\n")
	for _, row := range rows {
		r := row.Run
		l := LatencyOf(r.OKLatency)
		rate := "closed"
		if r.Rate > 0 {
			rate = fmt.Sprintf("%g/s", r.Rate)
		}
		cells := []string{r.Name, rate, fmt.Sprint(r.Sent), fmt.Sprint(r.OK), fmt.Sprintf("%.0f", r.Throughput()),
			MS(l.P50), MS(l.P90), MS(l.P99), MS(l.P999), MS(l.Max), ErrorSummary(r.Errors())}
		if len(row.Extra) != len(extra) {
			return fmt.Errorf("loadgen: table: run %q has %d extra cells, want %d", r.Name, len(row.Extra), len(extra))
		}
		cells = append(cells, row.Extra...)
		b.WriteString("| " + strings.Join(cells, " | ") + " |\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// MS renders a duration in milliseconds with microsecond resolution.
func MS(d time.Duration) string { return fmt.Sprintf("%.3f ms", float64(d.Microseconds())/1000) }

// ErrorSummary renders error counts as "n text; ..." largest first ("none"
// when empty).
func ErrorSummary(m map[string]int) string {
	if len(m) == 0 {
		return "none"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if m[keys[i]] != m[keys[j]] {
			return m[keys[i]] > m[keys[j]]
		}
		return keys[i] < keys[j]
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%d %s", m[k], strings.ReplaceAll(k, "|", "/"))
	}
	return strings.Join(parts, "; ")
}
