package window

import (
	"fmt"
	"math"
	"math/big"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fusebox-go/fusebox/clock"
)

func TestNewTime(t *testing.T) {
	bad := []struct {
		d    time.Duration
		n    int
		want []string
	}{
		{time.Second, 0, []string{"window:", "buckets 0", "1 to 1000"}},
		{time.Second, -1, []string{"buckets -1", "1 to 1000"}},
		{time.Second, MaxBuckets + 1, []string{"buckets 1001"}},
		{0, 10, []string{"duration 0s", "positive", "10 buckets"}},
		{-time.Second, 10, []string{"duration -1s", "positive"}},
		{10, 3, []string{"duration 10ns", "whole multiple of 3 buckets"}},
		{time.Second + 1, 10, []string{"duration 1.000000001s"}},
	}
	for _, tt := range bad {
		w, err := NewTime(tt.d, tt.n)
		if err == nil {
			t.Errorf("NewTime(%v, %d) = %v, nil; want an error", tt.d, tt.n, w)
			continue
		}
		for _, sub := range tt.want {
			if !strings.Contains(err.Error(), sub) {
				t.Errorf("NewTime(%v, %d) error %q does not contain %q", tt.d, tt.n, err, sub)
			}
		}
	}
	good := []struct {
		d     time.Duration
		n     int
		width time.Duration
	}{
		{time.Second, 1, time.Second},
		{10 * time.Second, 10, time.Second},
		{time.Minute, 6, 10 * time.Second},
		{1000, MaxBuckets, 1},
		{3, 3, 1},
	}
	for _, tt := range good {
		w, err := NewTime(tt.d, tt.n)
		if err != nil {
			t.Fatalf("NewTime(%v, %d): %v", tt.d, tt.n, err)
		}
		if w.Buckets() != tt.n || w.Width() != tt.width {
			t.Errorf("NewTime(%v, %d): Buckets() = %d, Width() = %v; want %d, %v",
				tt.d, tt.n, w.Buckets(), w.Width(), tt.n, tt.width)
		}
		for _, now := range []int64{0, -1, 1 << 50} {
			if c := w.CountsAt(now); c != (Counts{}) {
				t.Errorf("new window CountsAt(%d) = %+v, want zero", now, c)
			}
		}
	}
}

// refTime is the reference model of a Time window: a map from epoch to
// counts. A record counts in the later of its own epoch and the newest epoch
// recorded so far (the head); a read at now sums the B epochs ending at the
// later of now's epoch and the head. Reset forgets the map and moves the
// head to now's epoch; Totals never forget.
type refTime struct {
	width, n int64
	head     int64
	epochs   map[int64]Counts
	totals   Counts
}

func newRefTime(d time.Duration, n int) *refTime {
	return &refTime{width: int64(d) / int64(n), n: int64(n), epochs: map[int64]Counts{}}
}

// epochOf is floor(now/width), by big-integer Euclidean division (which for
// a positive divisor is the floor): a computation independent of the
// window's.
func (r *refTime) epochOf(now int64) int64 {
	var q, m big.Int
	q.DivMod(big.NewInt(now), big.NewInt(r.width), &m)
	return q.Int64()
}

func (r *refTime) record(now int64, k Kind) {
	e := max(r.epochOf(now), r.head)
	if e != r.head {
		r.head = e
		for x := range r.epochs { // bounded memory: forget what no read can see
			if x <= r.head-r.n {
				delete(r.epochs, x)
			}
		}
	}
	r.epochs[e] = r.epochs[e].plus(countOf(k))
	r.totals = r.totals.plus(countOf(k))
}

func (r *refTime) counts(now int64) Counts {
	e := max(r.epochOf(now), r.head)
	var c Counts
	for x, xc := range r.epochs {
		if x > e-r.n && x <= e {
			c = c.plus(xc)
		}
	}
	return c
}

func (r *refTime) reset(now int64) {
	r.head = r.epochOf(now)
	clear(r.epochs)
}

// timeStep is one step of a table test: a record (kind, times) or a read
// (want) at an instant, or a reset.
type timeStep struct {
	op    string // "rec", "read", "reset"
	at    int64
	kind  Kind
	times int
	want  Counts
}

func rec(at int64, k Kind) timeStep         { return timeStep{op: "rec", at: at, kind: k, times: 1} }
func recN(at int64, k Kind, n int) timeStep { return timeStep{op: "rec", at: at, kind: k, times: n} }
func read(at int64, calls, fails uint64) timeStep {
	return timeStep{op: "read", at: at, want: Counts{Calls: calls, Failures: fails}}
}
func readC(at int64, c Counts) timeStep { return timeStep{op: "read", at: at, want: c} }
func reset(at int64) timeStep           { return timeStep{op: "reset", at: at} }

func TestTimeTable(t *testing.T) {
	// Every table uses a 40ns window of 4 buckets of 10ns: epoch e covers
	// [10e, 10e+10).
	tests := []struct {
		name  string
		steps []timeStep
	}{
		{"bucket edges", []timeStep{
			rec(0, F), rec(9, S), // epoch 0
			rec(10, F), // epoch 1
			rec(39, S), // epoch 3
			read(39, 4, 2),
			read(40, 2, 1), // epoch 4: epoch 0 has left
			read(49, 2, 1),
			read(50, 1, 0), // epoch 1 has left
			read(69, 1, 0),
			read(70, 0, 0), // epoch 3 has left
		}},
		{"one bucket's worth of records at its last instant", []timeStep{
			recN(19, F, 5), rec(20, S),
			read(20, 6, 5),
			read(49, 6, 5),
			read(50, 1, 0),
		}},
		{"idle gap: skipped buckets read empty", []timeStep{
			rec(0, F), rec(25, F), // epochs 0 and 2
			read(25, 2, 2),
			rec(100, S), // epoch 10 reuses epoch 2's bucket; epochs 7-9 were never written
			read(100, 1, 0),
			read(75, 1, 0), // a read before the head reads at the head
			rec(1000, S), rec(1001, F),
			read(1009, 2, 1),
			read(1040, 0, 0),
		}},
		{"gap of exactly one window", []timeStep{
			rec(5, F),
			rec(45, S), // epoch 4, same bucket as epoch 0
			read(45, 1, 0),
			read(5, 1, 0),
		}},
		{"records in the past count in the newest epoch", []timeStep{
			rec(100, S), // epoch 10
			rec(5, F),   // epoch 0 < head: counts in epoch 10
			rec(99, F),  // epoch 9 < head: epoch 10 too
			read(100, 3, 2),
			read(139, 3, 2),
			read(140, 0, 0),
			rec(50, S), // still the head's epoch: epoch 10
			read(140, 0, 0),
			read(100, 4, 2),
		}},
		{"reads do not move the head", []timeStep{
			rec(0, S),
			read(1000, 0, 0),
			rec(10, F), // epoch 1: the head is 0, not 100
			read(30, 2, 1),
		}},
		{"kinds", []timeStep{
			rec(0, S), rec(1, F), rec(2, SL), rec(3, FS), rec(4, I), rec(5, I|F), rec(6, I|FS), rec(7, 8),
			readC(7, Counts{Calls: 5, Failures: 2, Slow: 2, Ignored: 3}),
			readC(40, Counts{}),
		}},
		{"reset", []timeStep{
			rec(0, F), rec(10, F),
			reset(20),
			read(20, 0, 0),
			read(10, 0, 0),
			rec(15, S), // before the reset instant: counts in the reset's epoch 2
			read(20, 1, 0),
			read(50, 1, 0),
			read(60, 0, 0),
		}},
		{"reset backwards", []timeStep{
			rec(1000, F),
			reset(100),
			read(100, 0, 0),
			read(1000, 0, 0),
			rec(100, S),
			read(100, 1, 0),
			rec(110, F),
			read(110, 2, 1),
		}},
		{"negative instants", []timeStep{
			reset(-100),               // epoch -10
			rec(-100, F), rec(-91, F), // epoch -10
			read(-91, 2, 2),
			rec(-90, S), // epoch -9
			read(-90, 3, 2),
			read(-61, 3, 2), // epoch -7: window -10..-7
			read(-60, 1, 0), // epoch -6: window -9..-6
			read(-1, 0, 0),  // epoch -1
			rec(-1, F),
			read(-1, 1, 1),
			read(0, 1, 1),  // epoch 0: window -3..0
			read(29, 1, 1), // epoch 2: window -1..2
			read(30, 0, 0),
			rec(-500, S), // before the head: epoch -1
			read(0, 2, 1),
		}},
		{"negative instants at bucket edges", []timeStep{
			reset(-41),
			rec(-41, F),    // epoch -5
			rec(-40, S),    // epoch -4
			rec(-31, S),    // epoch -4
			rec(-30, S),    // epoch -3
			read(-2, 3, 0), // epoch -1: window -4..-1
			read(-1, 3, 0),
			read(-11, 4, 1), // epoch -2: window -5..-2
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, err := NewTime(40, 4)
			if err != nil {
				t.Fatal(err)
			}
			ref := newRefTime(40, 4)
			var all Counts
			for i, s := range tt.steps {
				switch s.op {
				case "rec":
					for range s.times {
						w.RecordAt(s.at, s.kind)
						ref.record(s.at, s.kind)
						all = all.plus(countOf(s.kind))
					}
				case "reset":
					w.Reset(s.at)
					ref.reset(s.at)
				case "read":
					if got := w.CountsAt(s.at); got != s.want {
						t.Errorf("step %d: CountsAt(%d) = %+v, want %+v", i, s.at, got, s.want)
					}
					if got := ref.counts(s.at); got != s.want {
						t.Errorf("step %d: the reference model's counts(%d) = %+v, want %+v (bad table or model)", i, s.at, got, s.want)
					}
				}
				if got := w.Totals(Counts{}); got != all {
					t.Errorf("step %d: Totals() = %+v, want %+v", i, got, all)
				}
			}
		})
	}
}

// TestTimeFarPast pins down a fixed bug: the floor division of instants
// before the origin computed now-width+1, which overflows for the reading
// math.MinInt64 (what a Fake clock set to the zero time reads) and mapped
// it to a huge positive epoch, after which every record clamped to it.
func TestTimeFarPast(t *testing.T) {
	f := clock.NewFake(time.Time{})
	f.Set(time.Time{})
	far := f.Nanotime()
	if far != math.MinInt64 {
		t.Fatalf("fake clock at the zero time reads %d, want math.MinInt64", far)
	}
	w, err := NewTime(40, 4)
	if err != nil {
		t.Fatal(err)
	}
	w.Reset(far)
	w.RecordAt(far, FailureBit)
	if got := w.CountsAt(far); got != (Counts{Calls: 1, Failures: 1}) {
		t.Fatalf("CountsAt(MinInt64) = %+v, want the one failure", got)
	}
	w.RecordAt(0, Success)
	if got := w.CountsAt(0); got != (Counts{Calls: 1}) {
		t.Fatalf("CountsAt(0) = %+v, want only the success at 0", got)
	}
}

// TestTimeNarrowBucketsFarPast: buckets narrower than packedMinWidth do
// not use the cached head word, whose 54-bit epoch far-past instants would
// overflow; they divide instead and stay exact.
func TestTimeNarrowBucketsFarPast(t *testing.T) {
	w, err := NewTime(4, 4) // 1ns buckets
	if err != nil {
		t.Fatal(err)
	}
	if w.width >= packedMinWidth {
		t.Fatal("1ns buckets use the packed head word")
	}
	at := int64(-1 << 55)
	w.Reset(at)
	w.RecordAt(at, FailureBit)
	w.RecordAt(at+100, Success)
	if got := w.CountsAt(at + 100); got != (Counts{Calls: 1}) {
		t.Fatalf("CountsAt = %+v, want the one success 100 buckets later", got)
	}
}

func TestTimeConcurrentFixedInstant(t *testing.T) {
	const goroutines, rounds = 8, 500
	w, err := NewTime(10*time.Second, 10)
	if err != nil {
		t.Fatal(err)
	}
	const now = int64(3*time.Second + 500*time.Millisecond) // inside one bucket
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for r := range rounds {
				for i := range mix {
					w.RecordAt(now, mix[(i+g+r)%len(mix)])
				}
				if r%50 == 0 {
					_ = w.CountsAt(now) // readers alongside, for -race
				}
			}
		})
	}
	wg.Wait()
	var want Counts
	for _, k := range mix {
		want = want.plus(countOf(k))
	}
	want = want.times(goroutines * rounds)
	if got := w.CountsAt(now); got != want {
		t.Errorf("CountsAt() = %+v, want %+v", got, want)
	}
	if got := w.Totals(Counts{}); got != want {
		t.Errorf("Totals() = %+v, want %+v", got, want)
	}
}

// TestTimeConcurrentRotating: goroutines record at instants that move
// across many buckets, so buckets are reclaimed while others record into
// them. The window's aggregate is then approximate, but no record may be
// lost from Totals.
func TestTimeConcurrentRotating(t *testing.T) {
	const goroutines, perG = 8, 4000
	w, err := NewTime(40, 4)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range perG {
				w.RecordAt(int64(i+g*3), mix[(i+g)%len(mix)])
			}
		})
	}
	wg.Wait()
	var want Counts
	for g := range goroutines {
		for i := range perG {
			want = want.plus(countOf(mix[(i+g)%len(mix)]))
		}
	}
	if got := w.Totals(Counts{}); got != want {
		t.Fatalf("Totals() = %+v, want %+v", got, want)
	}
	// Quiescent again: a record and a read one window later are exact.
	later := int64(perG + goroutines*3 + 100)
	w.RecordAt(later, FailureBit)
	if got := w.CountsAt(later); got != (Counts{Calls: 1, Failures: 1}) {
		t.Fatalf("CountsAt(later) = %+v, want the one failure", got)
	}
}

// TestTimeConcurrentExact: goroutines on every core record successes (and
// some failures) at a fixed instant and across rotating buckets; every
// record is counted, and a quiescent window reads exactly.
func TestTimeConcurrentExact(t *testing.T) {
	const goroutines, perG = 8, 5000
	w, err := NewTime(4*time.Millisecond, 4)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	const now = int64(2*time.Millisecond + 10)
	for range goroutines {
		wg.Go(func() {
			for i := range perG {
				k := Success
				if i%10 == 0 {
					k = FailureBit
				}
				w.RecordAt(now, k)
				if i%500 == 0 {
					_ = w.CountsAt(now)
				}
			}
		})
	}
	wg.Wait()
	want := Counts{Calls: goroutines * perG, Failures: goroutines * perG / 10}
	if got := w.CountsAt(now); got != want {
		t.Fatalf("fixed instant: CountsAt = %+v, want %+v", got, want)
	}
	if got := w.Totals(Counts{}); got != want {
		t.Fatalf("fixed instant: Totals = %+v, want %+v", got, want)
	}
	// Rotating: instants sweep many bucket widths.
	for g := range goroutines {
		wg.Go(func() {
			for i := range perG {
				w.RecordAt(now+int64(i+g*7)*int64(100*time.Microsecond), Success)
			}
		})
	}
	wg.Wait()
	want.Calls *= 2
	if got := w.Totals(Counts{}); got != want {
		t.Fatalf("rotating: Totals = %+v, want %+v", got, want)
	}
	later := now + int64(time.Hour)
	w.RecordAt(later, Success)
	w.RecordAt(later, FailureBit)
	if got := w.CountsAt(later); got != (Counts{Calls: 2, Failures: 1}) {
		t.Fatalf("an hour later: CountsAt = %+v, want the two new calls", got)
	}
	w.Reset(later)
	if got := w.CountsAt(later); got != (Counts{}) {
		t.Fatalf("after Reset: CountsAt = %+v, want empty", got)
	}
	want.Calls += 2
	want.Failures++
	if got := w.Totals(Counts{}); got != want {
		t.Fatalf("after Reset: Totals = %+v, want %+v", got, want)
	}
}

func TestTimeAllocs(t *testing.T) {
	w, err := NewTime(time.Second, 10)
	if err != nil {
		t.Fatal(err)
	}
	now := int64(0)
	if n := testing.AllocsPerRun(1000, func() {
		now += int64(7 * time.Millisecond) // rotates buckets too
		w.RecordAt(now, Kind(now%8))
	}); n != 0 {
		t.Errorf("Time.RecordAt allocates %v times per call, want 0", n)
	}
	if n := testing.AllocsPerRun(1000, func() { _ = w.CountsAt(now) }); n != 0 {
		t.Errorf("Time.CountsAt allocates %v times per call, want 0", n)
	}
}

// FuzzTimeWindow applies a sequence of operations decoded from the input to
// a Time window and to the reference model and compares them at every read.
//
// Input: byte 0 picks the bucket count, byte 1 the bucket width, then pairs
// (op, arg) follow; see the switch for the operations.
func FuzzTimeWindow(f *testing.F) {
	for _, seed := range fuzzSeeds {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 2 {
			return
		}
		ns := []int{1, 2, 3, 4, 5, 8, 10, 60}
		widths := []int64{1, 3, 10, int64(time.Millisecond), int64(time.Second)}
		n := ns[int(data[0])%len(ns)]
		width := widths[int(data[1])%len(widths)]
		d := time.Duration(width * int64(n))
		w, err := NewTime(d, n)
		if err != nil {
			t.Fatalf("NewTime(%v, %d): %v", d, n, err)
		}
		ref := newRefTime(d, n)
		// Keep instants far from overflow, and epochs within ±2^52: the
		// window's cached head packs the epoch into 54 bits, which
		// buckets narrower than 1024ns can exceed (see
		// TestTimeNarrowBucketsFarPast).
		limit := int64(1 << 60)
		if width < 256 {
			limit = (1 << 52) * width
		}
		var now int64
		var log []string
		check := func(at int64) {
			got, want := w.CountsAt(at), ref.counts(at)
			if got != want {
				t.Fatalf("window %v/%d: CountsAt(%d) = %+v, want %+v\nops:\n%s", d, n, at, got, want, strings.Join(log, "\n"))
			}
			if got, want := w.Totals(Counts{}), ref.totals; got != want {
				t.Fatalf("window %v/%d: Totals() = %+v, want %+v\nops:\n%s", d, n, got, want, strings.Join(log, "\n"))
			}
		}
		ops := data[2:]
		for i := 0; i+1 < len(ops) && i < 2000; i += 2 {
			op, arg := ops[i]%10, ops[i+1]
			switch op {
			case 0: // small step forward
				now += int64(arg) * max(width/16, 1)
			case 1: // whole buckets forward
				now += int64(arg%32) * width
			case 2: // jump forward by hours
				now += int64(arg) * int64(time.Hour)
			case 3: // jump back
				now -= int64(arg) * max(width/2, 1)
			case 4: // to the next bucket edge, -2 to +2
				now = (ref.epochOf(now)+1)*width + int64(int8(arg))%3
			case 5: // record one call of any kind byte
				w.RecordAt(now, Kind(arg))
				ref.record(now, Kind(arg))
				log = append(log, fmt.Sprintf("rec %d kind %d", now, arg))
			case 6: // burst of records
				k := Kind(arg & 7)
				for range arg >> 3 {
					w.RecordAt(now, k)
					ref.record(now, k)
				}
				log = append(log, fmt.Sprintf("rec %d kind %d x%d", now, k, arg>>3))
			case 7: // read, at now or up to 64 half-buckets around it
				at := now + int64(int8(arg)/2)*max(width/2, 1)
				log = append(log, fmt.Sprintf("read %d", at))
				check(at)
			case 8: // reset
				w.Reset(now)
				ref.reset(now)
				log = append(log, fmt.Sprintf("reset %d", now))
			case 9: // jump back by hours
				now -= int64(arg) * int64(time.Hour)
			}
			now = min(max(now, -limit), limit)
		}
		check(now)
	})
}

// fuzzSeeds are the seed corpus of FuzzTimeWindow: 2 bytes of shape, then
// (op, arg) pairs. Ops: 0 step, 1 buckets, 2 hours, 3 back, 4 edge, 5 record,
// 6 burst, 7 read, 8 reset, 9 hours back.
var fuzzSeeds = [][]byte{
	// jumps forward by hours
	{3, 2, 5, 1, 2, 10, 7, 0, 5, 3, 7, 0, 2, 255, 5, 0, 7, 0, 7, 0x80, 2, 1, 7, 0},
	// backwards
	{2, 2, 5, 1, 1, 3, 5, 2, 3, 200, 5, 3, 7, 0, 7, 0x80, 3, 255, 3, 255, 5, 1, 7, 0, 7, 0x7f},
	// bursts at bucket edges
	{4, 2, 4, 0xfe, 6, 0x8b, 4, 0, 6, 0xf9, 7, 0, 4, 1, 6, 0x43, 7, 0, 7, 0xf0, 4, 0xff, 6, 0xfa, 7, 0, 1, 3, 7, 0},
	// negative instants and a reset there
	{1, 3, 9, 5, 8, 0, 5, 1, 0, 100, 5, 6, 4, 0, 5, 2, 7, 0, 7, 0x90, 1, 7, 7, 0},
	// one-bucket window of 1ns buckets, every step a new epoch
	{0, 0, 5, 1, 0, 1, 5, 2, 7, 0, 0, 1, 7, 0, 3, 1, 5, 3, 7, 0, 7, 0xfc},
	// a minute of second-wide buckets with idle gaps
	{7, 4, 5, 1, 1, 5, 5, 1, 1, 30, 5, 1, 7, 0, 1, 31, 1, 31, 7, 0, 5, 7, 7, 0},
	// the same, and a reset
	{0x87, 4, 5, 0, 6, 0x80, 1, 5, 5, 0, 1, 30, 7, 0, 8, 0, 6, 0x40, 7, 0, 1, 31, 1, 31, 7, 0, 5, 7, 7, 0},
	// millisecond buckets, bursts of successes at edges
	{0x82, 3, 6, 0xf8, 4, 0, 6, 0x80, 7, 0, 4, 1, 6, 0x40, 7, 0, 3, 9, 6, 0x20, 7, 0, 9, 1, 6, 0x10, 7, 0},
}

func BenchmarkTimeRecordAt(b *testing.B) {
	w, err := NewTime(10*time.Second, 10)
	if err != nil {
		b.Fatal(err)
	}
	c, err := clock.NewCoarse(nil, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Stop()
	b.Run("single", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			w.RecordAt(c.Nanotime(), Kind(i&3))
			i++
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				w.RecordAt(c.Nanotime(), Kind(i&3))
				i++
			}
		})
	})
}

func BenchmarkTimeCountsAt(b *testing.B) {
	w, err := NewTime(10*time.Second, 10)
	if err != nil {
		b.Fatal(err)
	}
	for i := range int64(100) {
		w.RecordAt(i*int64(100*time.Millisecond), FailureBit)
	}
	b.ReportAllocs()
	var s uint64
	for b.Loop() {
		s += w.CountsAt(int64(9 * time.Second)).Calls
	}
	if s == 0 {
		b.Fatal("read nothing")
	}
}

// TestTimeReadNeverLosesRecords: while the head moves through many epochs,
// a concurrent read of the window never counts fewer calls than had been
// recorded when the read began. (A read that lost successes would see the
// failure rate jump, and a breaker checking it would trip on a rate that
// never happened.) Every epoch used stays inside the window, so nothing
// expires.
func TestTimeReadNeverLosesRecords(t *testing.T) {
	const writers, perWriter, epochs = 4, 20000, 900
	const width = packedMinWidth
	w, err := NewTime(time.Duration(MaxBuckets*width), MaxBuckets)
	if err != nil {
		t.Fatal(err)
	}
	var completed atomic.Uint64
	var stop atomic.Bool
	var wg sync.WaitGroup
	for g := range writers {
		wg.Go(func() {
			for i := range perWriter {
				// Every writer sweeps the same epochs, so records
				// race with the claims of new buckets.
				now := int64((i*epochs/perWriter)*width + g)
				k := Success
				if i%50 == 0 {
					k = FailureBit
				}
				w.RecordAt(now, k)
				completed.Add(1)
			}
		})
	}
	var lost string
	var reader sync.WaitGroup
	reader.Go(func() {
		readAt := int64((MaxBuckets - 1) * width)
		for !stop.Load() {
			before := completed.Load()
			if got := w.CountsAt(readAt).Calls; got < before {
				lost = fmt.Sprintf("CountsAt read %d calls after %d had been recorded", got, before)
				return
			}
		}
	})
	wg.Wait()
	stop.Store(true)
	reader.Wait()
	if lost != "" {
		t.Fatal(lost)
	}
	if got, want := w.CountsAt(int64((MaxBuckets-1)*width)).Calls, uint64(writers*perWriter); got != want {
		t.Fatalf("quiescent CountsAt: %d calls, want %d", got, want)
	}
}

// AddTotal counts a call in the lifetime totals only, never in the window,
// and a Reset keeps it.
func TestTimeAddTotal(t *testing.T) {
	for _, width := range []time.Duration{time.Second, 10} { // the cached-head path and the narrow one
		t.Run(width.String(), func(t *testing.T) {
			w, err := NewTime(4*width, 4)
			if err != nil {
				t.Fatal(err)
			}
			now := int64(0)
			w.RecordAt(now, FailureBit)
			w.RecordAt(now, Success)
			for _, k := range []Kind{Success, FailureBit, SlowBit, FailureBit | SlowBit, Ignored} {
				w.AddTotal(k)
			}
			if got, want := w.CountsAt(now), (Counts{2, 1, 0, 0}); got != want {
				t.Errorf("after AddTotal: CountsAt = %+v, want %+v (the window untouched)", got, want)
			}
			if got, want := w.Totals(Counts{}), (Counts{6, 3, 2, 1}); got != want {
				t.Errorf("after AddTotal: Totals() = %+v, want %+v", got, want)
			}
			w.Reset(now + int64(width))
			w.RecordAt(now+int64(width), Success)
			if got, want := w.CountsAt(now+int64(width)), (Counts{1, 0, 0, 0}); got != want {
				t.Errorf("after Reset: CountsAt = %+v, want %+v", got, want)
			}
			if got, want := w.Totals(Counts{}), (Counts{7, 3, 2, 1}); got != want {
				t.Errorf("after Reset: Totals() = %+v, want %+v (kept)", got, want)
			}
		})
	}
}
