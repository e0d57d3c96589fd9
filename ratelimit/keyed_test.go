package ratelimit

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fusebox-go/fusebox"
	"github.com/fusebox-go/fusebox/internal/testwait"
)

func mustKeyed(t testing.TB, c KeyedConfig) *Keyed {
	t.Helper()
	k, err := NewKeyed(c)
	if err != nil {
		t.Fatalf("NewKeyed(%+v): %v", c, err)
	}
	return k
}

func TestNewKeyedValidation(t *testing.T) {
	bad := []struct {
		c    KeyedConfig
		want string
	}{
		{KeyedConfig{}, "Rate 0 out of range"},
		{KeyedConfig{Rate: 1, Burst: -3}, "Burst -3 out of range"},
		{KeyedConfig{Rate: 1, MaxKeys: -1}, "MaxKeys -1 out of range: want 0 (default 10000) or more"},
		{KeyedConfig{Rate: 1, IdleTimeout: -time.Second}, "IdleTimeout -1s out of range: want 0 (default 1m0s) or more"},
	}
	for _, tc := range bad {
		k, err := NewKeyed(tc.c)
		if err == nil || k != nil || !strings.HasPrefix(err.Error(), "ratelimit: ") || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NewKeyed(%+v) = %v, %v; want an error containing %q", tc.c, k, err, tc.want)
		}
	}
	s := mustKeyed(t, KeyedConfig{Rate: 2.5, Clock: newFake()}).Snapshot()
	if s.Burst != 3 || s.MaxKeys != DefaultMaxKeys || s.IdleTimeout != DefaultIdleTimeout {
		t.Errorf("defaults: %+v", s)
	}
	// Shards never outnumber MaxKeys, and their shares add up to it.
	for _, maxKeys := range []int{1, 3, 31, 32, 33, 1000} {
		k := mustKeyed(t, KeyedConfig{Rate: 1, MaxKeys: maxKeys, Clock: newFake()})
		total := 0
		for i := range k.shards {
			if k.shards[i].max < 1 {
				t.Errorf("MaxKeys %d: shard %d holds no key", maxKeys, i)
			}
			total += k.shards[i].max
		}
		if total != maxKeys {
			t.Errorf("MaxKeys %d: shard shares add up to %d", maxKeys, total)
		}
	}
}

func TestKeyedKeysAreIndependent(t *testing.T) {
	k := mustKeyed(t, KeyedConfig{Rate: 1, Burst: 2, Clock: newFake()})
	for i, want := range []bool{true, true, false} {
		if got := k.allowAt("alice", 0); got != want {
			t.Fatalf("alice call %d: %v, want %v", i, got, want)
		}
	}
	for i, want := range []bool{true, true, false} {
		if got := k.allowAt("bob", 0); got != want {
			t.Fatalf("bob call %d: %v, want %v: his bucket is not his own", i, got, want)
		}
	}
	if k.allowAt("alice", 999*ms) || !k.allowAt("alice", 1000*ms) {
		t.Fatal("alice's bucket does not refill at Rate")
	}
	if s := k.Snapshot(); s.Keys != 2 || s.Allowed != 5 || s.Rejected != 3 {
		t.Fatalf("Snapshot = %+v", s)
	}
}

func TestKeyedIdleEviction(t *testing.T) {
	const sec = int64(time.Second)
	clk := newFake()
	k := mustKeyed(t, KeyedConfig{Rate: 1, Burst: 5, MaxKeys: 1000, IdleTimeout: 2 * time.Second, Clock: clk})
	sh := k.shard("a")
	var same []string
	for i := 0; len(same) < 4; i++ {
		if key := fmt.Sprint("k", i); k.shard(key) == sh {
			same = append(same, key)
		}
	}
	a, b, c, d := same[0], same[1], same[2], same[3]
	k.allowAt(a, 0)
	k.allowAt(b, 0)
	// Idle for IdleTimeout, but the buckets (5 tokens at 1/s) refill only
	// at 5s: keys are kept until then.
	k.allowAt(c, 3*sec)
	if n := len(sh.m); n != 3 {
		t.Fatalf("%d keys after 3s, want 3: keys are kept until their bucket refills", n)
	}
	// At 5s, a and b are idle and full: an Allow on the shard forgets them.
	k.allowAt(c, 5*sec)
	if _, ok := sh.m[a]; ok {
		t.Fatal("idle key a was not forgotten")
	}
	if _, ok := sh.m[b]; ok {
		t.Fatal("idle key b was not forgotten")
	}
	if n := len(sh.m); n != 1 {
		t.Fatalf("%d keys, want only c", n)
	}
	// Sweep forgets the rest once idle; a fresh Allow starts full.
	k.allowAt(d, 6*sec)
	if got := k.Len(); got != 2 {
		t.Fatalf("Len = %d, want 2", got)
	}
	clk.Advance(20 * time.Second)
	if n := k.Sweep(); n != 2 || k.Len() != 0 {
		t.Fatalf("Sweep forgot %d keys, %d left", n, k.Len())
	}
	if s := k.Snapshot(); s.IdleEvictions != 4 || s.CapacityEvictions != 0 {
		t.Fatalf("Snapshot = %+v", s)
	}
}

func TestKeyedMaxKeys(t *testing.T) {
	// 64 keys over 32 shards: two per shard. Find three keys of one shard.
	k := mustKeyed(t, KeyedConfig{Rate: 1, Burst: 1, MaxKeys: 64, IdleTimeout: time.Hour, Clock: newFake()})
	sh := k.shard("x")
	var same []string
	for i := 0; len(same) < 3; i++ {
		if key := fmt.Sprint("key", i); k.shard(key) == sh {
			same = append(same, key)
		}
	}
	a, b, c := same[0], same[1], same[2]
	k.allowAt(a, 0)
	k.allowAt(b, 1)
	k.allowAt(a, 2) // a is now the most recently used; rejected, but used
	k.allowAt(c, 3) // the shard is full: b, least recently used, goes
	if _, ok := sh.m[b]; ok || len(sh.m) != 2 {
		t.Fatalf("b was not evicted: %d keys", len(sh.m))
	}
	if _, ok := sh.m[a]; !ok {
		t.Fatal("a, recently used, was evicted")
	}
	// Documented trade-off: the evicted key starts over with a full bucket.
	if !k.allowAt(b, 4) {
		t.Fatal("an evicted key did not start with a full bucket")
	}
	// Whatever the keys, never more than MaxKeys.
	for i := range 1000 {
		k.allowAt(fmt.Sprint("flood", i), 5)
		if i%100 == 0 && k.Len() > 64 {
			t.Fatalf("Len = %d > MaxKeys", k.Len())
		}
	}
	if s := k.Snapshot(); s.Keys != 64 || s.CapacityEvictions < 900 {
		t.Fatalf("Snapshot = %+v", s)
	}
}

func TestKeyedRun(t *testing.T) {
	k := mustKeyed(t, KeyedConfig{Rate: 1, Burst: 1, Clock: newFake()})
	p, err := fusebox.New(k)
	if err != nil {
		t.Fatal(err)
	}
	fn := func(context.Context) error { return nil }
	alice := WithKey(context.Background(), "alice")
	if key, ok := KeyFromContext(alice); !ok || key != "alice" {
		t.Fatalf("KeyFromContext = %q, %v", key, ok)
	}
	if err := p.Run(alice, fn); err != nil {
		t.Fatal(err)
	}
	if err := p.Run(alice, fn); err != ErrRateLimited {
		t.Fatalf("second call for alice: %v", err)
	}
	if err := k.Execute(WithKey(context.Background(), "bob"), fn); err != nil {
		t.Fatalf("bob: %v", err)
	}
	// No key: the shared bucket of "".
	if err := k.Execute(context.Background(), fn); err != nil {
		t.Fatal(err)
	}
	if err := k.Execute(context.Background(), fn); err != ErrRateLimited {
		t.Fatalf("second unkeyed call: %v", err)
	}
	if !k.allowAt("bob", 5*int64(time.Second)) || k.Len() != 3 {
		t.Fatalf("Len = %d", k.Len())
	}
}

func TestKeyedAllocatesNothingForKnownKeys(t *testing.T) {
	k := mustKeyed(t, KeyedConfig{Rate: 1e6, Burst: 1 << 20, Clock: newFake()})
	key := strings.Repeat("tenant-", 3)
	k.Allow(key)
	if n := testing.AllocsPerRun(1000, func() { k.Allow(key) }); n != 0 {
		t.Errorf("Allow allocates %v times per call", n)
	}
	ctx := WithKey(context.Background(), key)
	fn := func(context.Context) error { return nil }
	if n := testing.AllocsPerRun(1000, func() { _ = k.Execute(ctx, fn) }); n != 0 {
		t.Errorf("Execute allocates %v times per call", n)
	}
}

// TestKeyedAccuracyUnderContention: 16 goroutines spread over 4 keys take
// tokens as fast as they can while time moves in 10ms steps over 5s. Each
// key gets at most Rate×P + Burst and, since they keep trying, nearly that.
func TestKeyedAccuracyUnderContention(t *testing.T) {
	const (
		rate   = 500.0
		burst  = 10
		period = 5 * time.Second
		step   = 10 * time.Millisecond
	)
	keys := []string{"a", "b", "c", "d"}
	clk := newFake()
	k := mustKeyed(t, KeyedConfig{Rate: rate, Burst: burst, Clock: clk})
	counts := make([]atomic.Int64, len(keys))
	drained := func() bool {
		now := clk.Nanotime()
		for _, key := range keys {
			sh := k.shard(key)
			sh.mu.Lock()
			e := sh.m[key]
			full := e == nil || k.g.tokens(e.tat, now) >= 1
			sh.mu.Unlock()
			if full {
				return false
			}
		}
		return true
	}
	hammer(16, func(g, i int) (int, bool) {
		idx := (g + i) % len(keys)
		return idx, k.Allow(keys[idx])
	}, counts, func() {
		for elapsed := time.Duration(0); elapsed < period; elapsed += step {
			testwait.Spin(t, "every bucket to drain", drained)
			clk.Advance(step)
		}
		testwait.Spin(t, "every bucket to drain", drained)
	})
	upper := int64(rate*period.Seconds()) + burst
	for i, key := range keys {
		got := counts[i].Load()
		if got > upper || float64(got) < 0.9*rate*period.Seconds() {
			t.Errorf("key %s got %d tokens over %v; want at most %d and at least 90%% of %v", key, got, period, upper, rate*period.Seconds())
		}
	}
}

// TestKeyedNeverOverRateAtHighRates: a key's bucket is bounded as a
// Bucket is (see TestBucketNeverOverRateAtHighRates).
func TestKeyedNeverOverRateAtHighRates(t *testing.T) {
	for _, rate := range highRates {
		for _, burst := range []int{1, 5} {
			k := mustKeyed(t, KeyedConfig{Rate: rate, Burst: burst, Clock: newFake()})
			checkNeverOverRate(t, rate, burst, func(now int64) bool { return k.allowAt("client", now) })
		}
	}
}

func BenchmarkKeyedAllow(b *testing.B) {
	k, _ := NewKeyed(KeyedConfig{Rate: 1e9, Burst: 1e9})
	keys := make([]string, 64)
	for i := range keys {
		keys[i] = fmt.Sprint("client-", i)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			k.Allow(keys[i&63])
			i++
		}
	})
}

// TestKeyedLongKeysBounded: a key longer than MaxKeyLen is kept as its
// digest, so 200 keys of 1 MiB each, all remembered, hold kilobytes rather
// than 200 MiB; each long key still has its own bucket. Before, each key
// was kept whole.
func TestKeyedLongKeysBounded(t *testing.T) {
	const n, size = 200, 1 << 20
	k := mustKeyed(t, KeyedConfig{Rate: 1, Burst: 1, Clock: newFake()})
	// The keys differ in their last bytes only: a digest of a part of the
	// key would merge them.
	buf := []byte(strings.Repeat("k", size))
	key := func(i int) string {
		copy(buf[size-8:], fmt.Sprintf("%08d", i))
		return string(buf) // a fresh 1 MiB string, garbage once Allow returns
	}
	before := testwait.HeapAlloc()
	for i := range n {
		if !k.allowAt(key(i), 0) {
			t.Fatalf("long key %d: refused its first call: it shares a bucket", i)
		}
	}
	if k.Len() != n {
		t.Fatalf("Len = %d, want all %d keys remembered", k.Len(), n)
	}
	grown := testwait.HeapGrowth(t, before, 1<<20)
	t.Logf("%d keys of %d bytes: the heap grew %d bytes", n, size, grown)
	for i := range n {
		if k.allowAt(key(i), 0) {
			t.Fatalf("long key %d: a second call at once was allowed, want its bucket empty", i)
		}
	}
}

// TestKeyedStoredKey: keys up to MaxKeyLen bytes are kept as they are;
// longer ones as a digest longer than MaxKeyLen, which no key kept as it is
// can equal.
func TestKeyedStoredKey(t *testing.T) {
	short := strings.Repeat("s", MaxKeyLen)
	if got := storedKey(short); got != short {
		t.Fatalf("storedKey of %d bytes = %q, want it unchanged", MaxKeyLen, got)
	}
	long := short + "x"
	got := storedKey(long)
	if !strings.HasPrefix(got, "sha256:") || len(got) != 71 || len(got) <= MaxKeyLen {
		t.Fatalf("storedKey of %d bytes = %q, want sha256: and 64 hex digits", len(long), got)
	}
	if storedKey(short+"y") == got || storedKey(got) == got {
		t.Fatal("two keys share a digest")
	}
	// A key spelled as a long key's digest is itself longer than MaxKeyLen,
	// and digested in turn: it has a bucket of its own.
	k := mustKeyed(t, KeyedConfig{Rate: 1, Burst: 1, Clock: newFake()})
	if !k.allowAt(long, 0) || !k.allowAt(got, 0) || k.Len() != 2 {
		t.Fatal("a long key and its digest share a bucket")
	}
}
