package race

import (
	"fmt"
	"image/color"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// verdictRank places the verdicts on the chart's vertical axis, correct
// at the bottom; a verdict of several defects goes on its worst one's row.
var verdictRank = func() []Verdict {
	r := []Verdict{VerdictCorrect, VerdictInconclusive}
	for i := len(Defects) - 1; i >= 0; i-- {
		r = append(r, Defects[i].Verdict)
	}
	return r
}()

func rank(v Verdict) int {
	worst, _, _ := strings.Cut(string(v), "; ")
	for i, r := range verdictRank {
		if r == Verdict(worst) {
			return i
		}
	}
	return len(verdictRank)
}

// Chart draws correctness against cost: one point per strategy, at the
// cost of its young clear and the height of its verdict. Save the plot
// with Save(w, h, "name.svg" or "name.png").
func (c *Comparison) Chart() (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("pvsim compare: correctness against cost (%s per strategy, %d vCPUs)", c.PerStrategy(), c.VCPUs)
	p.X.Label.Text = "µs per ptep_test_and_clear_young (mean, measured in the guest)"
	p.Y.Label.Text = "verdict"
	p.X.Min = 0

	var good, bad plotter.XYs
	var labels plotter.XYLabels
	onRow := map[int]int{} // points drawn so far on each verdict's row
	for _, e := range c.Entries {
		row := rank(e.Verdict)
		xy := plotter.XY{X: e.YoungClearUs, Y: float64(row)}
		if e.Verdict == VerdictCorrect {
			good = append(good, xy)
		} else {
			bad = append(bad, xy)
		}
		// Labels of one row step upwards, so that close points stay legible.
		labels.XYs = append(labels.XYs, plotter.XY{X: xy.X, Y: xy.Y + 0.22*float64(onRow[row])})
		onRow[row]++
		labels.Labels = append(labels.Labels, fmt.Sprintf("  %s (%.2f exits)", e.Strategy, e.ExitsPerYoung))
	}
	for _, s := range []struct {
		xy    plotter.XYs
		color color.Color
		name  string
	}{{good, color.RGBA{G: 140, A: 255}, "correct"}, {bad, color.RGBA{R: 200, A: 255}, "wrong"}} {
		if len(s.xy) == 0 {
			continue
		}
		sc, err := plotter.NewScatter(s.xy)
		if err != nil {
			return nil, err
		}
		sc.GlyphStyle.Color = s.color
		sc.GlyphStyle.Radius = vg.Points(4)
		sc.GlyphStyle.Shape = draw.CircleGlyph{}
		p.Add(sc)
		p.Legend.Add(s.name, sc)
	}
	l, err := plotter.NewLabels(labels)
	if err != nil {
		return nil, err
	}
	p.Add(l)

	ticks := make([]plot.Tick, len(verdictRank))
	for i, v := range verdictRank {
		ticks[i] = plot.Tick{Value: float64(i), Label: string(v)}
	}
	p.Y.Tick.Marker = plot.ConstantTicks(ticks)
	p.Y.Min, p.Y.Max = -0.5, float64(len(verdictRank))-0.5
	p.Legend.Top = true
	// Room on the right for the labels of the costliest points.
	p.X.Max = p.X.Max * 1.45
	return p, nil
}

// SaveChart writes the chart as SVG and PNG, base + ".svg" and ".png".
func (c *Comparison) SaveChart(base string) error {
	p, err := c.Chart()
	if err != nil {
		return err
	}
	for _, ext := range []string{".svg", ".png"} {
		if err := p.Save(9*vg.Inch, 5*vg.Inch, base+ext); err != nil {
			return fmt.Errorf("chart %s: %w", base+ext, err)
		}
	}
	return nil
}
