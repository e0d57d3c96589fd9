package dashboard

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/fusebox-go/fusebox"
	"github.com/fusebox-go/fusebox/breaker"
)

// track is what the dashboard remembers of one row between samples.
type track struct {
	cur reading
	// prev holds the totals of the latest sample that made a point.
	prev   reading
	prevAt int64 // Nanotime of it
	// points is a ring of the latest samples; head is the index of the
	// oldest, n how many are held; seqs numbers them like Dashboard.seq.
	points []point
	head   int
	n      int
	// limiting: the latest point counted rejections.
	limiting bool

	// Headline figures over the last rateSpan, updated with each point.
	rate, errRate, slowRate, rejRate, rejFrac float64
	lat                                       *LatencyStatus

	// latency: cum holds cumulative histograms of the latest samples
	// (a ring of span+1, oldest at cumHead), for the headline
	// percentiles and each point's.
	latOf   *Latency
	cum     []hist
	cumHead int
	cumN    int
}

// point is one sample of a track: its Point, and the exact deltas the
// headline figures are summed from.
type point struct {
	seq            uint64
	dt             int64
	dc, df, ds, dr uint64
	Point
}

// sample reads every policy and merges the readings; with addPoint it is a
// sample proper (a point on every row's history), without it only
// refreshes the current state, for a prompt push of a state change.
//
// The snapshots are read outside any lock (a Snapshotter is user code), so
// samples may run concurrently (the sampler's, and /status.json's when the
// sampler does not run): one that started before the latest merged sample
// is dropped, so that totals never go backwards.
//
// Each merged sample is a frame of the event streams: when a stream is
// open, its "update" message is built (under d.mu) and encoded (outside
// it) here, once for every stream.
func (d *Dashboard) sample(addPoint bool) {
	now, wall := d.clk.Nanotime(), d.clk.Now()
	rs := d.collect()
	d.pubMu.Lock()
	defer d.pubMu.Unlock()
	d.mu.Lock()
	if d.sampled && now < d.lastAt {
		d.mu.Unlock()
		return
	}
	d.sampled = true
	d.mergeLocked(rs, now, wall, addPoint)
	fromSeq, fromChange := d.frameSeq, d.frameChange
	d.frameID++
	d.frameSeq, d.frameChange = d.seq, d.changeN
	f := frame{id: d.frameID}
	open := len(d.subs) > 0
	var st Status
	if open {
		st = d.statusLocked(false, fromSeq, fromChange, d.frameChange)
	}
	d.mu.Unlock()
	if open {
		// A status that does not encode (a Snapshotter's value JSON
		// cannot hold) leaves the frame without a message: the streams
		// fall back to the full status, and end when it fails too.
		f.data, _ = message("update", st)
	}
	d.mu.Lock()
	d.publishLocked(f)
	subs := make([]*subscriber, 0, len(d.subs))
	for s := range d.subs {
		subs = append(subs, s)
	}
	d.mu.Unlock()
	for _, s := range subs {
		s.notify()
	}
}

// collect reads every policy's snapshot, outside d.mu.
func (d *Dashboard) collect() []reading {
	d.mu.Lock()
	nameds := append([]named(nil), d.named...)
	lats := make(map[string]*Latency, len(d.latencies))
	for k, v := range d.latencies {
		lats[k] = v
	}
	d.mu.Unlock()

	var rs []reading
	for _, n := range nameds {
		i := len(rs)
		rs = readPolicy(rs, n.name, n.policy)
		for j := i; j < len(rs); j++ {
			rs[j].addID = n.id
		}
	}
	for si, src := range d.cfg.Sources {
		for _, m := range src.Snapshot() {
			if layers, ok := m.Value.([]any); ok {
				var kinds map[string]int
				for i, v := range layers {
					if v == nil {
						continue // a layer the registry cannot read, such as a Latency
					}
					r := read("", v)
					r.name, kinds = layerName(m.Key, r.kind, kinds)
					r.opSource, r.opKey, r.opLayer = si, m.Key, i
					rs = append(rs, r)
				}
				continue
			}
			r := read(m.Key, m.Value)
			r.opSource, r.opKey = si, m.Key
			rs = append(rs, r)
		}
	}

	// Unique names: a later row whose name is taken gets a suffix.
	seen := make(map[string]bool, len(rs))
	for i := range rs {
		name := rs[i].name
		for k := 2; seen[name]; k++ {
			name = rs[i].name + " (" + strconv.Itoa(k) + ")"
		}
		rs[i].name = name
		seen[name] = true
	}
	// Latencies go on the row of their name, or on one of their own.
	for i := range rs {
		if l, ok := lats[rs[i].name]; ok && rs[i].lat == nil {
			rs[i].lat = l
			delete(lats, rs[i].name)
		}
	}
	for _, name := range sortedKeys(lats) {
		if seen[name] {
			continue // a Latency added under its own name
		}
		l := lats[name]
		r := read(name, l.Snapshot())
		r.lat, r.latOwn = l, true
		rs = append(rs, r)
	}
	return rs
}

// readPolicy appends the readings of a policy given to Add.
func readPolicy(rs []reading, name string, p any) []reading {
	if pl, ok := p.(policyLayers); ok {
		var kinds map[string]int
		for _, layer := range pl.Policies() {
			if _, ok := layer.(*Latency); ok {
				continue // shown on the row of its own name
			}
			snap, ok := snapshotOf(layer)
			if !ok {
				continue
			}
			r := read("", snap)
			r.name, kinds = layerName(name, r.kind, kinds)
			r.op, _ = layer.(*breaker.Breaker)
			rs = append(rs, r)
		}
		return rs
	}
	if l, ok := p.(*Latency); ok {
		r := read(name, l.Snapshot())
		r.lat = l
		return append(rs, r)
	}
	snap, _ := snapshotOf(p)
	r := read(name, snap)
	r.op, _ = p.(*breaker.Breaker)
	return append(rs, r)
}

// layerName names a pipeline's layer "name/kind", "name/kind#2" for the
// second of a kind.
func layerName(name, kind string, kinds map[string]int) (string, map[string]int) {
	if kinds == nil {
		kinds = map[string]int{}
	}
	kinds[kind]++
	if n := kinds[kind]; n > 1 {
		return name + "/" + kind + "#" + strconv.Itoa(n), kinds
	}
	return name + "/" + kind, kinds
}

// mergeLocked folds readings into the tracks. Requires d.mu.
func (d *Dashboard) mergeLocked(rs []reading, now int64, wall time.Time, addPoint bool) {
	if addPoint {
		d.seq++
	}
	d.lastAt = now
	// Rows of policies removed while the snapshots were read are not
	// shown again.
	added := make(map[uint64]bool, len(d.named))
	for _, n := range d.named {
		added[n.id] = true
	}
	order := make([]string, 0, len(rs))
	live := make(map[string]bool, len(rs))
	for _, r := range rs {
		if (r.addID != 0 && !added[r.addID]) || (r.latOwn && d.latencies[r.lat.name] != r.lat) {
			continue
		}
		order = append(order, r.name)
		live[r.name] = true
		t := d.tracks[r.name]
		if t == nil {
			t = &track{prev: r, prevAt: now, points: make([]point, d.cfg.History)}
			d.tracks[r.name] = t
		} else if d.cfg.Events == nil && r.kind == KindBreaker && t.cur.kind == KindBreaker {
			d.detectLocked(t.cur, r, wall)
		}
		if r.kind == KindBreaker {
			r.since = wall.Add(-r.timeInState).Truncate(time.Millisecond)
		}
		t.cur = r
		if r.lat != t.latOf {
			t.latOf = r.lat
			t.cum, t.cumHead, t.cumN = nil, 0, 0
			t.lat = nil
		}
		if addPoint {
			d.pointLocked(t, now, wall)
		}
	}
	for name := range d.tracks {
		if !live[name] {
			delete(d.tracks, name)
		}
	}
	d.order = order
	d.indexBreakersLocked()
}

// indexBreakersLocked rebuilds d.byBreaker from the rows, so that it
// holds only breakers the dashboard shows. An event names a breaker by
// its Config.Name only: a name several rows share maps to "", and its
// events go on the timeline under that name. Requires d.mu.
func (d *Dashboard) indexBreakersLocked() {
	d.byBreaker = make(map[string]string, len(d.byBreaker))
	for row, t := range d.tracks {
		bn := t.cur.breakerName
		if t.cur.kind != KindBreaker || bn == "" {
			continue
		}
		if _, dup := d.byBreaker[bn]; dup {
			d.byBreaker[bn] = ""
			continue
		}
		d.byBreaker[bn] = row
	}
}

// detectLocked adds a timeline entry when a breaker's state differs from
// the previous sample's. Requires d.mu.
func (d *Dashboard) detectLocked(old, cur reading, wall time.Time) {
	if old.state == cur.state && old.generation == cur.generation {
		return
	}
	reason := cur.reason
	if n := cur.generation - old.generation; n > 1 && cur.generation > old.generation {
		reason += fmt.Sprintf(" (%d changes in between not seen)", n-1)
	}
	d.addChangeLocked(Change{
		At:     wall.Add(-cur.timeInState),
		Policy: cur.name, Kind: KindBreaker,
		From: old.state, To: cur.state, Reason: reason,
	})
}

// addChangeLocked appends c to the timeline ring. Requires d.mu.
func (d *Dashboard) addChangeLocked(c Change) {
	d.changeN++
	c.ID = d.changeN
	if len(d.changes) < d.cfg.Timeline {
		d.changes = append(d.changes, c)
		return
	}
	copy(d.changes, d.changes[1:])
	d.changes[len(d.changes)-1] = c
}

// onEvent takes a state change from the Events bus.
func (d *Dashboard) onEvent(ev fusebox.Event) {
	if ev.Kind != fusebox.EventStateChange {
		return
	}
	d.mu.Lock()
	name := ev.Name
	if n := d.byBreaker[ev.Name]; n != "" && ev.Policy == KindBreaker {
		name = n
	}
	d.addChangeLocked(Change{At: ev.At, Policy: name, Kind: ev.Policy, From: ev.From, To: ev.To, Reason: ev.Reason})
	d.mu.Unlock()
	d.poke()
}

// pointLocked adds a point to t: the deltas since the previous point.
// Requires d.mu.
func (d *Dashboard) pointLocked(t *track, now int64, wall time.Time) {
	cur := t.cur
	dt := now - t.prevAt
	if t.latOf != nil {
		t.pushCum(t.latOf, d.span())
	}
	if dt <= 0 {
		t.prev, t.prevAt = cur, now
		return
	}
	secs := float64(dt) / float64(time.Second)
	dc, df, ds, dr := delta(cur.calls, t.prev.calls), delta(cur.failures, t.prev.failures),
		delta(cur.slow, t.prev.slow), delta(cur.rejections, t.prev.rejections)
	p := Point{T: wall.UnixMilli(), Rate: round(float64(dc) / secs), Rej: round(float64(dr) / secs)}
	if dc > 0 {
		p.Err, p.Slow = fraction(df, dc), fraction(ds, dc)
	}
	if t.cumN >= 2 {
		var h hist
		h.sub(t.cumAt(t.cumN-1), t.cumAt(t.cumN-2))
		p.P50, p.P99 = h.quantile(0.5), h.quantile(0.99)
	}
	i := (t.head + t.n) % len(t.points)
	if t.n == len(t.points) {
		t.head = (t.head + 1) % len(t.points)
	} else {
		t.n++
	}
	t.points[i] = point{seq: d.seq, dt: dt, dc: dc, df: df, ds: ds, dr: dr, Point: p}
	t.prev, t.prevAt = cur, now
	t.limiting = dr > 0

	// Headline over the points of the last rateSpan (at least one).
	var sdt int64
	var sc, sf, ss, sr uint64
	for j := t.n - min(t.n, d.span()); j < t.n; j++ {
		q := &t.points[(t.head+j)%len(t.points)]
		sdt += q.dt
		sc, sf, ss, sr = sc+q.dc, sf+q.df, ss+q.ds, sr+q.dr
	}
	secs = float64(sdt) / float64(time.Second)
	t.rate, t.rejRate = round(float64(sc)/secs), round(float64(sr)/secs)
	t.errRate, t.slowRate, t.rejFrac = 0, 0, 0
	if sc > 0 {
		t.errRate, t.slowRate = fraction(sf, sc), fraction(ss, sc)
	}
	if sc+sr > 0 {
		t.rejFrac = round(float64(sr) / float64(sc+sr))
	}
	if t.cumN >= 2 {
		var h hist
		h.sub(t.cumAt(t.cumN-1), t.cumAt(0))
		t.lat = &LatencyStatus{Calls: h.count(), P50: h.quantile(0.5), P90: h.quantile(0.9), P99: h.quantile(0.99)}
	}
}

// span is how many points the headline figures cover.
func (d *Dashboard) span() int {
	k := int((rateSpan + d.cfg.Interval - 1) / d.cfg.Interval)
	return max(1, min(k, d.cfg.History))
}

// pushCum records l's current histogram in t's ring of span+1.
func (t *track) pushCum(l *Latency, span int) {
	if t.cum == nil {
		t.cum = make([]hist, span+1)
	}
	i := (t.cumHead + t.cumN) % len(t.cum)
	if t.cumN == len(t.cum) {
		t.cumHead = (t.cumHead + 1) % len(t.cum)
	} else {
		t.cumN++
	}
	l.load(&t.cum[i])
}

// cumAt returns the j-th held histogram, oldest first.
func (t *track) cumAt(j int) *hist {
	return &t.cum[(t.cumHead+j)%len(t.cum)]
}

// delta returns cur - prev for a total, or cur when the total went down
// (the policy was replaced, say a registry member evicted and made anew).
func delta(cur, prev uint64) uint64 {
	if cur < prev {
		return cur
	}
	return cur - prev
}

// round keeps three decimals, enough for a dashboard and short in JSON.
func round(f float64) float64 {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0
	}
	return math.Round(f*1000) / 1000
}

// statusLocked builds the Status: with full, every point and change; else
// only the points after sample seq and the changes after change id. Either
// way, only the changes up to id upto. Requires d.mu.
func (d *Dashboard) statusLocked(full bool, seq, change, upto uint64) Status {
	d.builds.Add(1)
	s := Status{
		Title:       d.cfg.Title,
		Time:        d.clk.Now(),
		Interval:    d.cfg.Interval,
		Seq:         d.seq,
		HistorySize: d.cfg.History,
		Actions:     d.cfg.Actions,
		Full:        full,
		Policies:    make([]PolicyStatus, 0, len(d.order)),
		Timeline:    []Change{},

		Streams:        len(d.subs),
		StreamsRefused: d.refused,
	}
	if d.evSub != nil {
		s.EventsDropped = d.evSub.Dropped()
	}
	for _, name := range d.order {
		t := d.tracks[name]
		if t == nil {
			continue
		}
		s.Policies = append(s.Policies, d.policyStatusLocked(t, full, seq))
	}
	for _, c := range d.changes {
		if (full || c.ID > change) && c.ID <= upto {
			s.Timeline = append(s.Timeline, c)
		}
	}
	return s
}

// policyStatusLocked builds one row. Requires d.mu.
func (d *Dashboard) policyStatusLocked(t *track, full bool, seq uint64) PolicyStatus {
	r := t.cur
	ps := PolicyStatus{
		Name: r.name, Kind: r.kind, State: r.state, Reason: r.reason, RetryAfter: r.retryAfter,
		Rate: t.rate, ErrorRate: t.errRate, SlowRate: t.slowRate, RejectRate: t.rejRate, RejectedFraction: t.rejFrac,
		Calls: r.calls, Failures: r.failures, SlowCalls: r.slow, Rejections: r.rejections,
		Latency: t.lat, Detail: r.detail, Snapshot: r.snap,
	}
	if r.kind == KindBreaker {
		since := r.since
		ps.Since = &since
		if d.cfg.Actions && d.actionable(r) {
			ps.Actions = breakerActions
		}
	}
	if t.limiting && ps.State == StateOK {
		switch r.kind {
		case KindRateLimit, KindBudget, KindHedge, KindRetry:
			ps.State = StateLimiting
		}
	}
	if t.latOf != nil && ps.Latency == nil {
		ps.Latency = &LatencyStatus{}
	}
	for j := range t.n {
		q := t.points[(t.head+j)%len(t.points)]
		if full || q.seq > seq {
			ps.History = append(ps.History, q.Point)
		}
	}
	return ps
}

// sortedKeys returns m's keys in order.
func sortedKeys(m map[string]*Latency) []string {
	return slices.Sorted(maps.Keys(m))
}

// fraction is part/whole rounded, at most 1: a policy that counts a call
// when it starts and its failure when it ends (a retry's exhausted calls)
// can report, in one interval, more failures than calls started.
func fraction(part, whole uint64) float64 {
	return round(min(float64(part)/float64(whole), 1))
}
