package testcontainers

import (
	"fmt"
	"io"
	"math"
	"strings"

	"gonum.org/v1/gonum/stat/distuv"
)

// Held is one quantity held out of sample: measured on several real runs
// and predicted for each by the simulator, calibrated on another run.
type Held struct {
	// Group names the experiment ("latency at 50% of capacity"), Name the
	// quantity ("p99 (ms)").
	Group, Name string
	// Measured and Predicted are per run, in the same order.
	Measured, Predicted []float64
	// Tolerance is the allowed |mean ratio - 1|; 0 with Bound false means
	// the quantity is reported, not held.
	Tolerance float64
	// Bound makes Predicted an upper bound instead of a prediction: held
	// when every measured value is at most its bound.
	Bound bool
	// Lacks says which effect the model lacks, for a quantity reported
	// rather than held.
	Lacks string
}

// Ratios returns measured/predicted per run, leaving out the runs where
// both are 0 (not applicable), and how many those were.
func (h Held) Ratios() (rs []float64, na int) {
	for i := range h.Measured {
		r := Ratio(h.Measured[i], h.Predicted[i])
		if math.IsNaN(r) {
			na++
			continue
		}
		rs = append(rs, r)
	}
	return rs, na
}

// MeanCI returns the mean of xs and its 95% confidence interval (Student's
// t, n-1 degrees of freedom); the interval is NaN for fewer than two values.
func MeanCI(xs []float64) (mean, lo, hi float64) {
	n := float64(len(xs))
	if n == 0 {
		return math.NaN(), math.NaN(), math.NaN()
	}
	for _, x := range xs {
		mean += x
	}
	mean /= n
	if n < 2 {
		return mean, math.NaN(), math.NaN()
	}
	var v float64
	for _, x := range xs {
		v += (x - mean) * (x - mean)
	}
	sd := math.Sqrt(v / (n - 1))
	t := distuv.StudentsT{Mu: 0, Sigma: 1, Nu: n - 1}.Quantile(0.975)
	half := t * sd / math.Sqrt(n)
	return mean, mean - half, mean + half
}

// Verdict is "held", "NOT held", "reported" or "n/a" (every run 0/0).
func (h Held) Verdict() string {
	rs, _ := h.Ratios()
	switch {
	case len(rs) == 0:
		return "n/a"
	case h.Bound:
		for i := range h.Measured {
			if h.Measured[i] > h.Predicted[i] {
				return "NOT held"
			}
		}
		return "held"
	case h.Tolerance == 0:
		return "reported"
	}
	m, _, _ := MeanCI(rs)
	if math.Abs(m-1) <= h.Tolerance {
		return "held"
	}
	return "NOT held"
}

// Failed reports whether the quantity is held and its verdict is NOT held.
func (h Held) Failed() bool { return h.Verdict() == "NOT held" }

// WriteHeldTable writes the held-out quantities as a Markdown table: runs,
// means measured and predicted, the mean ratio with its 95% interval, the
// tolerance and the verdict.
func WriteHeldTable(w io.Writer, hs []Held) error {
	var b strings.Builder
	b.WriteString("| experiment | quantity | runs | measured (mean) | predicted (mean) | measured/predicted | 95% CI | tolerance | verdict |\n")
	b.WriteString("|---|---|---:|---:|---:|---:|---|---|---|\n")
	for _, h := range hs {
		rs, na := h.Ratios()
		mm, _, _ := MeanCI(h.Measured)
		pm, _, _ := MeanCI(h.Predicted)
		rm, lo, hi := MeanCI(rs)
		runs := fmt.Sprint(len(h.Measured))
		if na > 0 {
			runs += fmt.Sprintf(" (%d n/a: 0/0)", na)
		}
		ratio, ci := "n/a", "-"
		if len(rs) > 0 {
			ratio = fmt.Sprintf("%.3f", rm)
		}
		if !math.IsNaN(lo) {
			ci = fmt.Sprintf("%.3f-%.3f", lo, hi)
		}
		tol := "reported"
		switch {
		case h.Bound:
			tol = "measured <= bound"
		case h.Tolerance > 0:
			tol = fmt.Sprintf("+-%g%%", 100*h.Tolerance)
		}
		verdict := h.Verdict()
		if h.Lacks != "" && verdict != "held" {
			verdict += ": " + h.Lacks
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", h.Group, h.Name, runs,
			num(mm), num(pm), ratio, ci, tol, verdict)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func num(v float64) string {
	switch {
	case math.IsNaN(v):
		return "-"
	case v == 0:
		return "0"
	case math.Abs(v) >= 100:
		return fmt.Sprintf("%.1f", v)
	case math.Abs(v) >= 1:
		return fmt.Sprintf("%.3f", v)
	default:
		return fmt.Sprintf("%.4f", v)
	}
}
