package demo

import (
	"fmt"
	"html"
	"html/template"
	"io"
	"math"
	"strings"
	"time"
)

// WriteReport writes a self-contained HTML page about r: the summary, and
// charts over time of every run side by side (throughput by outcome, error
// rate, latency percentiles, requests in flight and goroutines, requests
// reaching payments, breaker states), drawn as inline SVG. The page loads
// nothing from anywhere.
func WriteReport(w io.Writer, r *Result) error {
	if len(r.Runs) == 0 {
		return fmt.Errorf("report: no runs")
	}
	yml, err := r.Scenario.YAML()
	if err != nil {
		return err
	}
	series := make([]*runSeries, len(r.Runs))
	for i, rr := range r.Runs {
		series[i] = buildSeries(rr)
	}
	d := reportData{
		Headline: r.Headline(),
		Verdict:  VerdictRules(),
		Scenario: string(yml),
		Down:     (r.Scenario.Slow + r.Scenario.Errors).String(),
		PerRun:   r.Scenario.Total().String(),
		Rate:     fmt.Sprintf("%.0f", r.Scenario.Rate),
		Workers:  r.Scenario.GatewayWorkers,
		Queue:    r.Scenario.GatewayQueue,
		Timeout:  r.Scenario.ClientTimeout.String(),
		Topology: template.HTML(topologySVG(r.Scenario)),
	}
	for _, rr := range r.Runs {
		d.Runs = append(d.Runs, runHeader{Name: rr.Name, Protection: rr.Protection})
	}
	d.Summary = r.summaryRows()
	for _, c := range chartSpecs() {
		row := chartRow{Title: c.title, Note: c.note}
		for _, l := range c.legend {
			row.Legend = append(row.Legend, legendItem{Name: l.name, Color: template.CSS(l.color), Dash: l.dash, Area: l.area})
		}
		yMax := 0.0
		for _, s := range series {
			yMax = math.Max(yMax, c.max(s))
		}
		for i, s := range series {
			row.Cells = append(row.Cells, template.HTML(c.draw(s, r.Runs[i], yMax)))
		}
		d.Charts = append(d.Charts, row)
	}
	return reportTemplate.Execute(w, d)
}

type reportData struct {
	Headline, Verdict, Scenario, Down, PerRun, Rate, Timeout string
	Workers, Queue                                           int
	Topology                                                 template.HTML
	Runs                                                     []runHeader
	Summary                                                  [][]string
	Charts                                                   []chartRow
}

type runHeader struct{ Name, Protection string }

type chartRow struct {
	Title, Note string
	Legend      []legendItem
	Cells       []template.HTML
}

type legendItem struct {
	Name       string
	Color      template.CSS
	Dash, Area bool
}

// runSeries is a run cut into buckets of time, requests by the bucket they
// were sent in, gauges by the bucket they were read in.
type runSeries struct {
	bw     time.Duration
	n      int
	total  time.Duration
	bounds [numPhases + 1]time.Duration

	usersOK, ordersOK, ordersDeg, ordersFail, usersFail []float64 // req/s
	usersErr, ordersErr                                 []float64 // %
	usersP50, usersP99, ordersP50, ordersP99            []float64 // ms
	goroutines, gatewayIn, paymentsIn                   []float64 // peak in the bucket
	paymentsRate                                        []float64 // req/s received by payments
	bands                                               []band
}

// band is one breaker's states over the run.
type band struct {
	name string
	segs []segment
}

type segment struct {
	from, to time.Duration
	state    string
}

// bucketWidth is about a fiftieth of the run, in whole 100ms.
func bucketWidth(total time.Duration) time.Duration {
	bw := (total / 50).Round(100 * time.Millisecond)
	return max(bw, 100*time.Millisecond)
}

func buildSeries(rr *RunResult) *runSeries {
	total := rr.bounds[numPhases]
	s := &runSeries{bw: bucketWidth(total), total: total, bounds: rr.bounds}
	s.n = int((total + s.bw - 1) / s.bw)
	mk := func() []float64 { return make([]float64, s.n) }
	nan := func() []float64 {
		v := mk()
		for i := range v {
			v[i] = math.NaN()
		}
		return v
	}
	s.usersOK, s.ordersOK, s.ordersDeg, s.ordersFail, s.usersFail = mk(), mk(), mk(), mk(), mk()
	s.usersErr, s.ordersErr = nan(), nan()
	s.usersP50, s.usersP99, s.ordersP50, s.ordersP99 = nan(), nan(), nan(), nan()
	s.goroutines, s.gatewayIn, s.paymentsIn, s.paymentsRate = mk(), mk(), mk(), mk()

	users := make([][]sample, s.n)
	orders := make([][]sample, s.n)
	for _, x := range rr.samples {
		i := int(x.start / s.bw)
		if i < 0 || i >= s.n {
			continue
		}
		if x.ep == Users {
			users[i] = append(users[i], x)
		} else {
			orders[i] = append(orders[i], x)
		}
	}
	perSec := 1 / s.bw.Seconds()
	for i := 0; i < s.n; i++ {
		u, o := summarize(users[i], 0), summarize(orders[i], 0)
		s.usersOK[i] = float64(u.ok+u.degraded) * perSec
		s.usersFail[i] = float64(u.failed) * perSec
		s.ordersOK[i] = float64(o.ok) * perSec
		s.ordersDeg[i] = float64(o.degraded) * perSec
		s.ordersFail[i] = float64(o.failed) * perSec
		if u.n > 0 {
			s.usersErr[i] = 100 * u.failedShare
		}
		if o.n > 0 {
			s.ordersErr[i] = 100 * o.failedShare
		}
		if a := summarize(answered(users[i]), 0); a.n > 0 {
			s.usersP50[i], s.usersP99[i] = ms(a.p50), ms(a.p99)
		}
		if a := summarize(answered(orders[i]), 0); a.n > 0 {
			s.ordersP50[i], s.ordersP99[i] = ms(a.p50), ms(a.p99)
		}
	}
	// Gauges: the peak of each bucket; payments' rate from its counter.
	var prevTotal uint64
	prevAt := time.Duration(-1)
	for _, g := range rr.gauges {
		i := int(g.at / s.bw)
		if i < 0 || i >= s.n {
			continue
		}
		s.goroutines[i] = math.Max(s.goroutines[i], float64(g.goroutines))
		s.gatewayIn[i] = math.Max(s.gatewayIn[i], float64(g.gatewayInFlight))
		s.paymentsIn[i] = math.Max(s.paymentsIn[i], float64(g.paymentsIn))
		if prevAt >= 0 {
			s.paymentsRate[i] += float64(g.paymentsTotal-prevTotal) * perSec
		}
		prevTotal, prevAt = g.paymentsTotal, g.at
	}
	// Breaker bands, from the transitions (every breaker starts closed).
	for _, name := range rr.breakers {
		b := band{name: name}
		cur, from := "closed", time.Duration(0)
		for _, t := range rr.transitions {
			if t.breaker != name {
				continue
			}
			at := min(max(t.at, 0), total)
			if at > from {
				b.segs = append(b.segs, segment{from, at, cur})
			}
			cur, from = t.to, at
		}
		if total > from {
			b.segs = append(b.segs, segment{from, total, cur})
		}
		s.bands = append(s.bands, b)
	}
	return s
}

// answered returns the samples that got an answer, full or degraded.
func answered(ss []sample) []sample {
	var out []sample
	for _, s := range ss {
		if s.outcome != Failed {
			out = append(out, s)
		}
	}
	return out
}

// Colors of the report.
const (
	colUsers    = "#3b6fd1"
	colOK       = "#2e9a5a"
	colDegraded = "#e0a030"
	colFailed   = "#d64545"
	colUsersBad = "#7b2d8e"
	colGrey     = "#555"
)

var stateColors = map[string]string{
	"closed":    colOK,
	"open":      colFailed,
	"half-open": colDegraded,
}

type legend struct {
	name, color string
	dash, area  bool
}

// chartSpec is one row of charts, the same for every run.
type chartSpec struct {
	title, note string
	legend      []legend
	max         func(*runSeries) float64 // the largest value drawn, for a shared scale
	draw        func(s *runSeries, rr *RunResult, yMax float64) string
}

func chartSpecs() []chartSpec {
	return []chartSpec{
		{
			title: "Requests by outcome",
			note:  "requests per second, by the time they were sent: the load is the same in both runs, what differs is what became of it",
			legend: []legend{
				{"/users answered", colUsers, false, true}, {"/users failed", colUsersBad, false, true},
				{"/orders answered in full", colOK, false, true}, {"/orders degraded (fallback)", colDegraded, false, true},
				{"/orders failed", colFailed, false, true},
			},
			max: func(s *runSeries) float64 {
				m := 0.0
				for i := 0; i < s.n; i++ {
					m = math.Max(m, s.usersOK[i]+s.usersFail[i]+s.ordersOK[i]+s.ordersDeg[i]+s.ordersFail[i])
				}
				return m
			},
			draw: func(s *runSeries, _ *RunResult, yMax float64) string {
				p := newPlot(s, niceCeil(yMax), false, fmtCount)
				p.stack([][]float64{s.usersOK, s.usersFail, s.ordersOK, s.ordersDeg, s.ordersFail}, []string{colUsers, colUsersBad, colOK, colDegraded, colFailed})
				return p.finish("req/s")
			},
		},
		{
			title:  "Error rate",
			note:   "share of the requests sent in each interval that failed (a degraded answer is not a failure)",
			legend: []legend{{"/users", colUsers, false, false}, {"/orders", colFailed, false, false}},
			max:    func(*runSeries) float64 { return 100 },
			draw: func(s *runSeries, _ *RunResult, _ float64) string {
				p := newPlot(s, 100, false, func(v float64) string { return fmt.Sprintf("%.0f%%", v) })
				p.line(s.ordersErr, colFailed, false)
				p.line(s.usersErr, colUsers, false)
				return p.finish("")
			},
		},
		{
			title: "Latency of answered requests",
			note:  "p50 and p99 of the requests sent in each interval that got an answer (failures are in the error rate); logarithmic scale",
			legend: []legend{
				{"/users p99", colUsers, false, false}, {"/users p50", colUsers, true, false},
				{"/orders p99", colOK, false, false}, {"/orders p50", colOK, true, false},
			},
			max: func(s *runSeries) float64 { return maxOf(s.usersP99, s.ordersP99) },
			draw: func(s *runSeries, _ *RunResult, yMax float64) string {
				p := newPlot(s, decadeCeil(math.Max(yMax, 10)), true, func(v float64) string { return fmtMs(v) })
				p.yMin = 1
				p.line(s.ordersP50, colOK, true)
				p.line(s.ordersP99, colOK, false)
				p.line(s.usersP50, colUsers, true)
				p.line(s.usersP99, colUsers, false)
				return p.finish("")
			},
		},
		{
			title: "In flight",
			note:  "peak in each interval: goroutines of the whole process, requests inside the gateway (waiting for a worker included) and inside payments; logarithmic scale",
			legend: []legend{
				{"goroutines", colGrey, false, false}, {"requests in the gateway", colUsers, false, false}, {"requests in payments", colFailed, false, false},
			},
			max: func(s *runSeries) float64 { return maxOf(s.goroutines, s.gatewayIn, s.paymentsIn) },
			draw: func(s *runSeries, _ *RunResult, yMax float64) string {
				p := newPlot(s, decadeCeil(math.Max(yMax, 10)), true, fmtCount)
				p.yMin = 1
				p.line(s.goroutines, colGrey, false)
				p.line(s.paymentsIn, colFailed, false)
				p.line(s.gatewayIn, colUsers, false)
				return p.finish("")
			},
		},
		{
			title:  "Requests reaching payments",
			note:   "requests per second the payments server received, counted by the server: what the failing dependency had to take",
			legend: []legend{{"received by payments", colFailed, false, true}},
			max:    func(s *runSeries) float64 { return maxOf(s.paymentsRate) },
			draw: func(s *runSeries, _ *RunResult, yMax float64) string {
				p := newPlot(s, niceCeil(yMax), false, fmtCount)
				p.stack([][]float64{s.paymentsRate}, []string{colFailed})
				return p.finish("req/s")
			},
		},
		{
			title:  "Circuit breakers",
			note:   "the state of each breaker over time",
			legend: []legend{{"closed", colOK, false, true}, {"half-open", colDegraded, false, true}, {"open", colFailed, false, true}},
			max:    func(*runSeries) float64 { return 0 },
			draw: func(s *runSeries, _ *RunResult, _ float64) string {
				return drawBands(s)
			},
		},
	}
}

func maxOf(vs ...[]float64) float64 {
	m := 0.0
	for _, v := range vs {
		for _, x := range v {
			if !math.IsNaN(x) {
				m = math.Max(m, x)
			}
		}
	}
	return m
}

func fmtCount(v float64) string {
	if v >= 1000 {
		return fmt.Sprintf("%gk", math.Round(v/100)/10)
	}
	return fmt.Sprintf("%g", v)
}

// niceCeil rounds v up to 1, 2, 2.5 or 5 times a power of ten.
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if v <= m*p*1.0000001 {
			return m * p
		}
	}
	return 10 * p
}

// decadeCeil rounds v up to a power of ten.
func decadeCeil(v float64) float64 { return math.Pow(10, math.Ceil(math.Log10(v)-1e-9)) }

// Geometry of a chart, in SVG units.
const (
	chartW = 620
	chartH = 190
	padL   = 52
	padR   = 10
	padT   = 18
	padB   = 22
)

// plot draws one chart of one run.
type plot struct {
	s          *runSeries
	b          strings.Builder
	yMax, yMin float64
	log        bool
	yFmt       func(float64) string
}

func newPlot(s *runSeries, yMax float64, log bool, yFmt func(float64) string) *plot {
	return &plot{s: s, yMax: yMax, log: log, yFmt: yFmt}
}

func (p *plot) x(d time.Duration) float64 {
	return padL + float64(d)/float64(p.s.total)*(chartW-padL-padR)
}

func (p *plot) y(v float64) float64 {
	h := float64(chartH - padT - padB)
	var f float64
	if p.log {
		v = math.Max(v, p.yMin)
		f = (math.Log10(v) - math.Log10(p.yMin)) / (math.Log10(p.yMax) - math.Log10(p.yMin))
	} else {
		f = v / p.yMax
	}
	f = math.Max(0, math.Min(f, 1))
	return padT + (1-f)*h
}

// stack draws layers as stacked step areas, the first at the bottom.
func (p *plot) stack(layers [][]float64, colors []string) {
	s := p.s
	base := make([]float64, s.n)
	for k, layer := range layers {
		top := make([]float64, s.n)
		for i := range top {
			top[i] = base[i] + layer[i]
		}
		var path strings.Builder
		for i := 0; i < s.n; i++ {
			x0, x1 := p.x(time.Duration(i)*s.bw), p.x(min(time.Duration(i+1)*s.bw, s.total))
			cmd := "L"
			if i == 0 {
				cmd = "M"
			}
			fmt.Fprintf(&path, "%s%.1f %.1f L%.1f %.1f ", cmd, x0, p.y(top[i]), x1, p.y(top[i]))
		}
		for i := s.n - 1; i >= 0; i-- {
			x0, x1 := p.x(time.Duration(i)*s.bw), p.x(min(time.Duration(i+1)*s.bw, s.total))
			fmt.Fprintf(&path, "L%.1f %.1f L%.1f %.1f ", x1, p.y(base[i]), x0, p.y(base[i]))
		}
		fmt.Fprintf(&p.b, `<path d="%sZ" fill="%s" fill-opacity="0.85" stroke="none"/>`, path.String(), colors[k])
		base = top
	}
}

// line draws ys through the middle of each bucket, with a gap where a value
// is missing (NaN).
func (p *plot) line(ys []float64, color string, dash bool) {
	s := p.s
	var pts []string
	flush := func() {
		if len(pts) == 1 {
			pts = append(pts, pts[0])
		}
		if len(pts) > 0 {
			extra := ""
			if dash {
				extra = ` stroke-dasharray="5 3"`
			}
			fmt.Fprintf(&p.b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="1.8" stroke-linejoin="round"%s/>`, strings.Join(pts, " "), color, extra)
		}
		pts = pts[:0]
	}
	for i := 0; i < s.n; i++ {
		if math.IsNaN(ys[i]) {
			flush()
			continue
		}
		mid := min(time.Duration(i)*s.bw+s.bw/2, s.total)
		pts = append(pts, fmt.Sprintf("%.1f,%.1f", p.x(mid), p.y(ys[i])))
	}
	flush()
}

// finish wraps what was drawn in the frame: phases, grid, axes.
func (p *plot) finish(unit string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" width="%d" height="%d" font-family="system-ui, sans-serif" font-size="10">`, chartW, chartH, chartW, chartH)
	p.phases(&b, padT, chartH-padB)
	// Horizontal grid and y labels.
	for _, v := range p.yTicks() {
		y := p.y(v)
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#ddd" stroke-width="1"/>`, padL, chartW-padR, y, y)
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end" fill="#666">%s</text>`, padL-4, y+3, html.EscapeString(p.yFmt(v)))
	}
	if unit != "" {
		fmt.Fprintf(&b, `<text x="%d" y="%d" fill="#666">%s</text>`, 2, padT-6, html.EscapeString(unit))
	}
	b.WriteString(p.b.String())
	p.xAxis(&b, chartH-padB)
	b.WriteString(`</svg>`)
	return b.String()
}

func (p *plot) yTicks() []float64 {
	var ts []float64
	if p.log {
		for v := p.yMin; v <= p.yMax*1.0001; v *= 10 {
			ts = append(ts, v)
		}
		return ts
	}
	step := niceCeil(p.yMax / 5)
	for v := 0.0; v <= p.yMax*1.0001; v += step {
		ts = append(ts, v)
	}
	return ts
}

var phaseFill = [numPhases]string{"#ffffff", "#fff1da", "#fde2e2", "#e6f4ea"}
var phaseLabel = [numPhases]string{"healthy", "payments slow", "payments failing", "recovered"}

// phases shades each phase between y0 and y1 and names it at the top.
func (p *plot) phases(b *strings.Builder, y0, y1 int) {
	for ph := PhaseHealthy; ph < numPhases; ph++ {
		from, to := p.s.bounds[ph], p.s.bounds[ph+1]
		if to <= from {
			continue
		}
		x0, x1 := p.x(from), p.x(to)
		fmt.Fprintf(b, `<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="%s"/>`, x0, y0, x1-x0, y1-y0, phaseFill[ph])
		if x1-x0 > 40 {
			fmt.Fprintf(b, `<text x="%.1f" y="%d" fill="#999" text-anchor="middle">%s</text>`, (x0+x1)/2, y0-5, phaseLabel[ph])
		}
	}
}

// xAxis draws the time axis at y.
func (p *plot) xAxis(b *strings.Builder, y int) {
	fmt.Fprintf(b, `<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="#999"/>`, padL, chartW-padR, y, y)
	step := time.Second
	for _, s := range []time.Duration{1, 2, 5, 10, 15, 30, 60, 120, 300, 600} {
		step = s * time.Second
		if p.s.total/step <= 10 {
			break
		}
	}
	for t := time.Duration(0); t <= p.s.total; t += step {
		x := p.x(t)
		fmt.Fprintf(b, `<line x1="%.1f" x2="%.1f" y1="%d" y2="%d" stroke="#999"/>`, x, x, y, y+3)
		fmt.Fprintf(b, `<text x="%.1f" y="%d" text-anchor="middle" fill="#666">%gs</text>`, x, y+13, t.Seconds())
	}
}

// drawBands draws each breaker's states as a band of colors.
func drawBands(s *runSeries) string {
	const rowH, gap = 20, 6
	rows := max(len(s.bands), 1)
	h := padT + rows*(rowH+gap) + padB
	p := &plot{s: s}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" width="%d" height="%d" font-family="system-ui, sans-serif" font-size="10">`, chartW, h, chartW, h)
	p.phases(&b, padT, h-padB)
	if len(s.bands) == 0 {
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle" fill="#666" font-size="12">no circuit breakers: nothing notices that payments is down</text>`, p.x(s.total/2), padT+rowH-4)
	}
	for i, bd := range s.bands {
		y := padT + gap/2 + i*(rowH+gap)
		for _, sg := range bd.segs {
			x0, x1 := p.x(sg.from), p.x(sg.to)
			col, ok := stateColors[sg.state]
			if !ok {
				col = colGrey
			}
			fmt.Fprintf(&b, `<rect x="%.1f" y="%d" width="%.2f" height="%d" fill="%s"><title>%s: %s from %.1fs to %.1fs</title></rect>`,
				x0, y, math.Max(x1-x0, 0.8), rowH, col, html.EscapeString(bd.name), sg.state, sg.from.Seconds(), sg.to.Seconds())
		}
		fmt.Fprintf(&b, `<text x="%d" y="%d" fill="#fff" font-weight="600">%s</text>`, padL+4, y+rowH-6, html.EscapeString(bd.name))
	}
	p.xAxis(&b, h-padB)
	b.WriteString(`</svg>`)
	return b.String()
}

// topologySVG draws the services and who calls whom.
func topologySVG(sc Scenario) string {
	var b strings.Builder
	b.WriteString(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 900 170" width="900" height="170" font-family="system-ui, sans-serif" font-size="12">`)
	b.WriteString(`<defs><marker id="arr" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto"><path d="M0 0 L10 5 L0 10 z" fill="#777"/></marker></defs>`)
	box := func(x, y, w int, title, sub, fill string) {
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="40" rx="6" fill="%s" stroke="#999"/>`, x, y, w, fill)
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle" font-weight="600">%s</text>`, x+w/2, y+17, html.EscapeString(title))
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle" fill="#666" font-size="10.5">%s</text>`, x+w/2, y+31, html.EscapeString(sub))
	}
	arrow := func(x1, y1, x2, y2 int, label string) {
		fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#777" stroke-width="1.5" marker-end="url(#arr)"/>`, x1, y1, x2, y2)
		if label != "" {
			fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle" fill="#444" font-size="11">%s</text>`, (x1+x2)/2, (y1+y2)/2-5, html.EscapeString(label))
		}
	}
	box(5, 65, 160, "clients", fmt.Sprintf("%.0f req/s, give up after %s", sc.Rate, sc.ClientTimeout), "#fff")
	box(220, 65, 170, "gateway", fmt.Sprintf("%d workers + %d queued", sc.GatewayWorkers, sc.GatewayQueue), "#eef3fc")
	box(230, 5, 150, "/users", "answered by the gateway", "#fff")
	box(470, 65, 150, "orders", fmt.Sprintf("%d workers + %d queued", sc.OrdersWorkers, sc.OrdersQueue), "#eef3fc")
	box(700, 5, 190, "inventory", "healthy", "#fff")
	box(700, 65, 190, "catalog", "healthy", "#fff")
	box(700, 125, 190, "payments", "chaos server: slow, then failing", "#fde2e2")
	arrow(165, 85, 218, 85, "")
	arrow(305, 65, 305, 47, "")
	arrow(390, 85, 468, 85, "/orders")
	arrow(620, 78, 698, 28, "")
	arrow(620, 85, 698, 85, "")
	arrow(620, 92, 698, 142, "")
	b.WriteString(`</svg>`)
	return b.String()
}

// summaryRows is the summary table: a header row, then one row per number.
func (r *Result) summaryRows() [][]string {
	rows := [][]string{{fmt.Sprintf("while payments was down (%s)", r.Scenario.Slow+r.Scenario.Errors)}}
	for _, rr := range r.Runs {
		rows[0] = append(rows[0], rr.Name)
	}
	row := func(label string, f func(s Summary) string) {
		cells := []string{label}
		for _, rr := range r.Runs {
			cells = append(cells, f(rr.Summary))
		}
		rows = append(rows, cells)
	}
	row("/users success", func(s Summary) string { return pct(s.UsersSuccessDown) })
	row("/users p99 (healthy baseline → down)", func(s Summary) string {
		return fmtMs(s.UsersP99BaselineMs) + " → " + fmtMs(s.UsersP99DownMs)
	})
	row("/orders ok / degraded / failed", func(s Summary) string {
		return fmt.Sprintf("%s / %s / %s", pct0(s.OrdersOKDown), pct0(s.OrdersDegradedDown), pct0(s.OrdersFailedDown))
	})
	row("/orders p99", func(s Summary) string { return fmtMs(s.OrdersP99DownMs) })
	row("p99, all requests", func(s Summary) string { return fmtMs(s.P99DownMs) })
	row("requests that reached payments", func(s Summary) string { return thousands(int64(s.PaymentsRequestsDown)) })
	row("peak goroutines (whole run)", func(s Summary) string { return thousands(int64(s.PeakGoroutines)) })
	row("peak requests in the gateway", func(s Summary) string { return thousands(s.PeakGatewayInFlight) })
	row("time to detect (breaker opened)", func(s Summary) string { return optMs(s.TimeToDetectMs, "never") })
	row("time /users was unhealthy (whole run)", func(s Summary) string {
		if s.UsersUnhealthyMs <= 0 {
			return "none"
		}
		return fmtMs(s.UsersUnhealthyMs)
	})
	row("time to full /orders after payments recovered", func(s Summary) string {
		if s.OrdersDegradedDown <= 0 {
			return "never degraded"
		}
		return optMs(s.OrdersFullAgainMs, "not in the run")
	})
	row("/users verdict", func(s Summary) string { return string(s.usersVerdict()) })
	return rows
}

var reportTemplate = template.Must(template.New("report").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Fusebox demo report</title>
<style>
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 24px auto; max-width: 1320px; padding: 0 16px; color: #222; background: #fafafa; }
h1 { font-size: 24px; margin: 0 0 6px; }
h2 { font-size: 18px; margin: 28px 0 8px; }
h3 { font-size: 15px; margin: 22px 0 2px; }
p.lead { font-size: 16px; margin: 8px 0 16px; }
p.note { color: #666; font-size: 12.5px; margin: 2px 0 6px; }
table.summary { border-collapse: collapse; background: #fff; font-size: 14px; }
table.summary th, table.summary td { padding: 5px 14px; border-bottom: 1px solid #e5e5e5; text-align: right; }
table.summary th:first-child, table.summary td:first-child { text-align: left; color: #444; }
table.summary tr:first-child th { border-bottom: 2px solid #bbb; }
td.no { color: #c62828; font-weight: 600; } td.yes { color: #2e7d32; font-weight: 600; }
.grid { display: grid; grid-template-columns: 1fr 1fr; gap: 8px 24px; }
.cell { background: #fff; border: 1px solid #e5e5e5; border-radius: 6px; padding: 6px 8px 2px; }
.cell svg { width: 100%; height: auto; display: block; }
.runname { font-weight: 600; font-size: 13px; margin: 0 0 2px; }
.runname span { font-weight: 400; color: #777; }
.legend { font-size: 12px; color: #444; margin: 2px 0 6px; }
.legend span { margin-right: 14px; white-space: nowrap; }
.legend i { display: inline-block; width: 18px; height: 0; border-top: 2.5px solid; vertical-align: middle; margin-right: 5px; }
.legend i.area { height: 10px; border-top: none; }
.legend i.dash { border-top-style: dashed; }
pre { background: #fff; border: 1px solid #e5e5e5; padding: 10px; font-size: 12px; overflow: auto; }
.topo { max-width: 900px; }
</style>
</head>
<body>
<h1>Fusebox demo: the same outage, without and with Fusebox</h1>
<p class="lead">{{.Headline}}</p>
<p class="note">{{.Verdict}}</p>
<table class="summary">
{{range $i, $row := .Summary}}<tr>{{range $j, $c := $row}}{{if eq $i 0}}<th>{{$c}}</th>{{else if and (gt $j 0) (eq $c "went down" "partly failed" "slowed down")}}<td class="no">{{$c}}</td>{{else if and (gt $j 0) (eq $c "stayed up")}}<td class="yes">{{$c}}</td>{{else}}<td>{{$c}}</td>{{end}}{{end}}</tr>
{{end}}</table>

<h2>What ran</h2>
<div class="cell topo">{{.Topology}}</div>
<p class="note">Real HTTP servers on loopback, {{.PerRun}} per run, payments down for {{.Down}}. In both runs the gateway serves {{.Workers}} requests at once, all endpoints together, with up to {{.Queue}} more waiting for a worker (503 beyond that), as a thread-per-request server does.
Unprotected, its clients are plain ones with generous timeouts: slow /orders calls hold the workers, and /users requests queue behind them.
Protected, the same limits plus Fusebox: deadlines and per-attempt timeouts, a bulkhead per dependency, circuit breakers, retries within a budget, a fallback to the last known payment status, and load shedding.
Every number is measured on the wire; requests belong to the interval in which they were sent.</p>

{{range .Charts}}
<h3>{{.Title}}</h3>
<p class="note">{{.Note}}</p>
<div class="legend">{{range .Legend}}<span><i class="{{if .Area}}area{{end}} {{if .Dash}}dash{{end}}" style="border-color: {{.Color}}; {{if .Area}}background: {{.Color}};{{end}}"></i>{{.Name}}</span>{{end}}</div>
<div class="grid">
{{range $i, $c := .Cells}}<div class="cell"><p class="runname">{{with index $.Runs $i}}{{.Name}} <span>protections: {{.Protection}}</span>{{end}}</p>{{$c}}</div>
{{end}}</div>
{{end}}

<h2>Scenario</h2>
<details><summary>The scenario of this report, as YAML: save it and run it again with <code>fusebox demo --scenario file.yaml</code></summary>
<pre>{{.Scenario}}</pre>
</details>
</body>
</html>
`))
