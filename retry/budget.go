package retry

import (
	"fmt"
	"math"
	"sync/atomic"
	"time"

	"github.com/fusebox-go/fusebox/clock"
)

// Defaults of BudgetConfig, those of Finagle's RetryBudget.
const (
	DefaultBudgetRatio         = 0.2
	DefaultMinRetriesPerSecond = 10.0
	DefaultBudgetWindow        = 10 * time.Second
)

// NoMinRetries, as BudgetConfig.MinRetriesPerSecond, leaves a budget with no
// floor: retries are then only ever a fraction of requests.
const NoMinRetries = -1.0

// budgetBuckets is how many buckets a budget's window is divided into.
const budgetBuckets = 10

// minBudgetWindow keeps a bucket at least a millisecond wide, the resolution
// of the default coarse clock.
const minBudgetWindow = budgetBuckets * time.Millisecond

// BudgetConfig configures a Budget. Zero fields mean their documented
// defaults.
type BudgetConfig struct {
	// Ratio is the most retries the budget allows per request over the
	// window, on top of the floor: 0.2 lets retries add at most 20% to the
	// load. 0 means DefaultBudgetRatio (0.2); otherwise more than 0.
	Ratio float64 `json:"ratio" yaml:"ratio"`
	// MinRetriesPerSecond is a floor of retries always allowed, whatever
	// the ratio, so that a service with little traffic can still retry: the
	// budget allows MinRetriesPerSecond × Window retries per window on top
	// of Ratio × requests. 0 means DefaultMinRetriesPerSecond (10);
	// NoMinRetries (-1) means no floor; otherwise more than 0.
	MinRetriesPerSecond float64 `json:"minRetriesPerSecond" yaml:"minRetriesPerSecond"`
	// Window is the sliding window requests and retries are counted over,
	// kept as 10 buckets of Window/10, so the count covers between 90% and
	// 100% of Window. 0 means DefaultBudgetWindow (10s); otherwise at least
	// 10ms.
	Window time.Duration `json:"window" yaml:"window"`
	// Clock is the time source; nil means clock.Default().
	Clock clock.Clock `json:"-" yaml:"-"`
}

// Budget limits retries to a fraction of requests over a sliding window, in
// the manner of Finagle's RetryBudget and Envoy's retry budgets: it keeps a
// dependency that fails for everyone from receiving several times its normal
// load in retries. Share one Budget among all the retry policies (and
// hedges) that call the same dependency, through Config.Budget.
//
// A Budget is safe for concurrent use and lock-free: every request and every
// retry is one compare-and-swap on a bucket of counters.
type Budget struct {
	ratio   float64
	floor   float64 // retries always allowed per window
	width   int64   // nanoseconds per bucket
	window  time.Duration
	clock   clock.Clock
	refused atomic.Int64
	buckets [budgetBuckets]budgetBucket
}

// budgetBucket counts the requests and retries of one period. Period p (the
// clock's Nanotime divided by the bucket width) lives in bucket p mod 10,
// computed from the full int64 p so that consecutive periods always land in
// consecutive buckets. Each word holds the period's stamp (the low 32 bits
// of p) in its high half and the count in its low half, so that restarting
// a bucket for a new period and counting in it are a single
// compare-and-swap. Only the stamp is narrow: a bucket counts for the
// window when its stamp is exactly the one its place in the window calls
// for, which stays right across the stamp's wrap. A bucket left untouched
// for a multiple of 5×2^32 periods (248 days with 1ms buckets, 680 years
// with the default 1s) would pass for current: the price of one word.
type budgetBucket struct {
	requests atomic.Uint64
	retries  atomic.Uint64
}

// NewBudget returns a budget configured by c, or an error naming the first
// field out of range.
func NewBudget(c BudgetConfig) (*Budget, error) {
	ratio := c.Ratio
	switch {
	case math.IsNaN(ratio) || math.IsInf(ratio, 0) || ratio < 0:
		return nil, fmt.Errorf("retry: Ratio %v out of range: want 0 (default %v) or a finite number above 0", c.Ratio, DefaultBudgetRatio)
	case ratio == 0:
		ratio = DefaultBudgetRatio
	}
	mps := c.MinRetriesPerSecond
	switch {
	case mps == NoMinRetries:
		mps = 0
	case math.IsNaN(mps) || math.IsInf(mps, 0) || mps < 0:
		return nil, fmt.Errorf("retry: MinRetriesPerSecond %v out of range: want 0 (default %v), -1 (NoMinRetries) or a finite number above 0", c.MinRetriesPerSecond, DefaultMinRetriesPerSecond)
	case mps == 0:
		mps = DefaultMinRetriesPerSecond
	}
	w := c.Window
	switch {
	case w == 0:
		w = DefaultBudgetWindow
	case w < minBudgetWindow:
		return nil, fmt.Errorf("retry: Window %v out of range: want 0 (default %v) or at least %v", c.Window, DefaultBudgetWindow, minBudgetWindow)
	}
	clk := c.Clock
	if clk == nil {
		clk = clock.Default()
	}
	return &Budget{
		ratio:  ratio,
		floor:  mps * w.Seconds(),
		width:  int64(w / budgetBuckets),
		window: w,
		clock:  clk,
	}, nil
}

// Deposit records a request. A retry policy with this budget calls it once
// per call, before the first attempt; call it yourself only for requests
// made outside such a policy.
func (b *Budget) Deposit() {
	i, s := b.period()
	bump(&b.buckets[i].requests, s)
}

// TryWithdraw asks for one retry. It returns true and counts the retry when
// the retries in the window, this one included, stay within
// Ratio × requests + MinRetriesPerSecond × Window; otherwise it counts a
// refusal and returns false. A retry policy calls it before every retry.
func (b *Budget) TryWithdraw() bool {
	i, s := b.period()
	req, ret := b.sum(i, s)
	if float64(ret+1) > b.allowance(req) {
		b.refused.Add(1)
		return false
	}
	w := &b.buckets[i].retries
	bump(w, s)
	// Concurrent withdrawals may all have passed the check above: count
	// first, then check again, and take the retry back when over. At the
	// margin two racing retries may both give up; none overdraws.
	req, ret = b.sum(i, s)
	if float64(ret) > b.allowance(req) {
		unbump(w, s)
		b.refused.Add(1)
		return false
	}
	return true
}

// BudgetSnapshot is a point-in-time view of a Budget.
type BudgetSnapshot struct {
	// Requests is how many requests (first attempts) the current window
	// counts; it decreases as the window slides.
	Requests int64 `json:"requests" yaml:"requests"`
	// Retries is how many retries the current window counts.
	Retries int64 `json:"retries" yaml:"retries"`
	// Allowed is the most retries the window allows with its current
	// requests: Ratio × Requests + MinRetriesPerSecond × Window.
	Allowed float64 `json:"allowed" yaml:"allowed"`
	// Refused counts the retries refused since the budget was made.
	Refused int64 `json:"refused" yaml:"refused"`
}

// Snapshot returns the budget's current counts.
func (b *Budget) Snapshot() BudgetSnapshot {
	req, ret := b.sum(b.period())
	return BudgetSnapshot{
		Requests: int64(req),
		Retries:  int64(ret),
		Allowed:  b.allowance(req),
		Refused:  b.refused.Load(),
	}
}

func (b *Budget) allowance(requests uint64) float64 {
	return b.ratio*float64(requests) + b.floor
}

// period returns the bucket of the current period and its stamp, the low
// 32 bits of the period's index. The bucket comes from the full index: the
// stamp modulo 10 would jump where the stamp wraps (2^32 is not a multiple
// of 10) and restart a bucket still inside the window.
func (b *Budget) period() (bucket int, stamp uint32) {
	p := b.clock.Nanotime() / b.width
	i := p % budgetBuckets
	if i < 0 { // a clock reading below its origin, as a fake clock's may
		i += budgetBuckets
	}
	return int(i), uint32(p)
}

// sum returns the requests and retries counted in the buckets of the window
// that ends with the period in bucket i, stamped s. The window's j-th
// period back lives in bucket i-j (mod 10) and counts only if that bucket
// holds exactly that period's stamp, s-j.
func (b *Budget) sum(i int, s uint32) (requests, retries uint64) {
	for j := range budgetBuckets {
		k := i - j
		if k < 0 {
			k += budgetBuckets
		}
		bk, want := &b.buckets[k], s-uint32(j)
		if w := bk.requests.Load(); uint32(w>>32) == want {
			requests += uint64(uint32(w))
		}
		if w := bk.retries.Load(); uint32(w>>32) == want {
			retries += uint64(uint32(w))
		}
	}
	return requests, retries
}

// bump counts one in w for period s. A bucket still stamped with an older
// period is restarted at one. A bucket already stamped with a newer period
// (a goroutine that read the clock, then was descheduled for a whole
// window) counts it there rather than wiping the newer counts.
func bump(w *atomic.Uint64, s uint32) {
	for {
		old := w.Load()
		var next uint64
		// A period and the newer ones of its bucket differ by a multiple
		// of 10; anything else is an older period.
		if d := uint32(old>>32) - s; d <= 4*budgetBuckets && d%budgetBuckets == 0 {
			if uint32(old) == math.MaxUint32 {
				return // saturated
			}
			next = old + 1
		} else {
			next = uint64(s)<<32 | 1
		}
		if w.CompareAndSwap(old, next) {
			return
		}
	}
}

// unbump takes back a count bump made for period s, unless the bucket has
// moved on to another period since.
func unbump(w *atomic.Uint64, s uint32) {
	for {
		old := w.Load()
		if uint32(old>>32) != s || uint32(old) == 0 {
			return
		}
		if w.CompareAndSwap(old, old-1) {
			return
		}
	}
}
