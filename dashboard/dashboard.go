package dashboard

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fusebox-go/fusebox"
	"github.com/fusebox-go/fusebox/breaker"
	"github.com/fusebox-go/fusebox/clock"
	"github.com/fusebox-go/fusebox/registry"
)

// Defaults of a Config.
const (
	// DefaultInterval is the Interval of a Config that leaves it zero.
	DefaultInterval = time.Second
	// DefaultHistory is the History of a Config that leaves it zero.
	DefaultHistory = 120
	// DefaultTimeline is the Timeline of a Config that leaves it zero.
	DefaultTimeline = 100
	// DefaultHeartbeat is the Heartbeat of a Config that leaves it zero.
	DefaultHeartbeat = 15 * time.Second
	// DefaultTitle is the Title of a Config that leaves it empty.
	DefaultTitle = "Fusebox"
	// MinTokenLength is the shortest Token accepted with Actions, and
	// the shortest ReadToken.
	MinTokenLength = 16
	// DefaultMaxStreams is the MaxStreams of a Config that leaves it zero.
	DefaultMaxStreams = 64
	// MaxMaxStreams is the largest MaxStreams accepted.
	MaxMaxStreams = 10000
	// MinStreamWriteTimeout is the shortest time a write to an event
	// stream may take before the stream ends (see Config.Heartbeat).
	MinStreamWriteTimeout = 10 * time.Second
)

// rateSpan is the span the headline rates and percentiles cover.
const rateSpan = 10 * time.Second

// Source is a set of keyed policies, such as a *registry.Registry: every
// member its Snapshot returns is a row of the dashboard, named by its key.
//
// For operator actions on a member, the dashboard needs the breaker itself,
// not its snapshot: it looks it up with the source's Range method when the
// source has one with a func(string, T) bool argument, T being
// *breaker.Breaker, *fusebox.Pipeline, fusebox.Policy or any (a
// *registry.Registry of one of those has it, and so has a
// fuseboxhttp.RoundTripper).
type Source interface {
	// Snapshot returns the source's members, each a row (or, for a
	// pipeline, a row per layer) named by its key.
	Snapshot() []registry.Member
}

// Config configures a Dashboard. The zero value is a valid configuration
// with no sources (add policies with Dashboard.Add).
type Config struct {
	// Sources are sets of keyed policies to show, such as registries.
	// A nil entry is an error.
	Sources []Source `json:"-" yaml:"-"`
	// Events, when set, is the bus the dashboard takes state changes
	// from, for its timeline and for pushing them to viewers at once.
	// Give the same bus to the policies' Config.Events. nil means state
	// changes are detected by comparing successive samples.
	//
	// An event names its breaker by the breaker's Config.Name, so give
	// the breakers distinct names: the change of a breaker whose name
	// several rows share goes on the timeline under that name, not on a
	// row (the dashboard cannot tell which row it is). Events the
	// dashboard's subscription loses are counted in Status.EventsDropped.
	Events *fusebox.Events `json:"-" yaml:"-"`
	// Interval is the sample period: 0 means DefaultInterval (1s); it
	// must be at least 10ms.
	Interval time.Duration `json:"interval" yaml:"interval"`
	// History is how many samples each policy keeps for its sparklines,
	// 2 to 100000: 0 means DefaultHistory (120).
	History int `json:"history" yaml:"history"`
	// Timeline is how many state changes the timeline keeps, 1 to 100000:
	// 0 means DefaultTimeline (100).
	Timeline int `json:"timeline" yaml:"timeline"`
	// Heartbeat is how often an idle event stream gets a comment line, so
	// that proxies do not close it: 0 means DefaultHeartbeat (15s); it
	// must be at least 100ms. It also bounds each write to a stream: one
	// that takes longer than twice the Heartbeat, and at least
	// MinStreamWriteTimeout (10s), ends the stream (a client that stopped
	// reading, such as a suspended laptop; the page reconnects by
	// itself).
	Heartbeat time.Duration `json:"heartbeat" yaml:"heartbeat"`
	// MaxStreams is how many event streams (GET /events) may be open at
	// once, 1 to MaxMaxStreams (10000): 0 means DefaultMaxStreams (64).
	// Each open stream holds two goroutines and a connection; a request
	// beyond the limit gets 503 Service Unavailable with a Retry-After
	// and the connection closed, and is counted in Status.StreamsRefused.
	MaxStreams int `json:"maxStreams" yaml:"maxStreams"`
	// Title is the page's title: "" means DefaultTitle ("Fusebox").
	Title string `json:"title" yaml:"title"`
	// Actions enables operator actions on breakers (POST /actions:
	// force-open, reset, disable). false means /actions answers 404 and
	// the page shows no buttons.
	Actions bool `json:"actions" yaml:"actions"`
	// Token is the bearer token /actions requires, at least
	// MinTokenLength (16) bytes. Required when Actions is true; it must
	// be empty otherwise.
	Token string `json:"-" yaml:"-"`
	// ReadToken, when set, is required to read the dashboard: the page,
	// /status.json and /events answer 401 Unauthorized without a token
	// and 403 Forbidden with a wrong one. At least MinTokenLength (16)
	// bytes; "" leaves reading open. The action Token, when set, is
	// accepted for reading too; the ReadToken never grants actions. A
	// client sends it as "Authorization: Bearer <token>"; a browser opens
	// the page as ".../?token=<token>" (either token), which answers with
	// a cookie (HttpOnly, SameSite=Strict, scoped to the dashboard's path,
	// Secure over TLS, for the browser session) that holds neither token
	// and grants reading only, so that the page's event stream, which
	// cannot send a header, is let in too. The page then takes the token
	// out of the address bar. The static assets (script, style, icon) need
	// no token.
	ReadToken string `json:"-" yaml:"-"`
	// OnAction, when set, is called after each operator action that was
	// carried out, for an audit log. It runs outside any lock of the
	// dashboard, in the request's goroutine.
	OnAction func(Action) `json:"-" yaml:"-"`
	// Clock is the time source of the sampler, the heartbeat and the
	// latency policies: nil means clock.Real().
	Clock clock.Clock `json:"-" yaml:"-"`
}

// Action is one operator action, as Config.OnAction reports it.
type Action struct {
	// Policy is the dashboard name of the breaker acted on.
	Policy string `json:"policy"`
	// Action is "force-open", "reset" or "disable".
	Action string `json:"action"`
	// From is the breaker's state before the action ("closed", "open",
	// ...: breaker.State's String).
	From string `json:"from"`
	// To is the breaker's state after it.
	To string `json:"to"`
	// At is when it happened, by the dashboard's Clock.
	At time.Time `json:"at"`
	// RemoteAddr is the address of the client that asked for it
	// (http.Request.RemoteAddr: a proxy's, behind one).
	RemoteAddr string `json:"remoteAddr"`
}

func (c Config) validate() (Config, error) {
	for i, s := range c.Sources {
		if s == nil {
			return c, fmt.Errorf("dashboard: Sources[%d] is nil: want a Source such as a *registry.Registry", i)
		}
	}
	switch {
	case c.Interval == 0:
		c.Interval = DefaultInterval
	case c.Interval < 10*time.Millisecond:
		return c, fmt.Errorf("dashboard: Interval %v out of range: want 0 (default %v) or 10ms or more", c.Interval, DefaultInterval)
	}
	switch {
	case c.History == 0:
		c.History = DefaultHistory
	case c.History < 2 || c.History > 100000:
		return c, fmt.Errorf("dashboard: History %d out of range: want 0 (default %d) or 2 to 100000", c.History, DefaultHistory)
	}
	switch {
	case c.Timeline == 0:
		c.Timeline = DefaultTimeline
	case c.Timeline < 1 || c.Timeline > 100000:
		return c, fmt.Errorf("dashboard: Timeline %d out of range: want 0 (default %d) or 1 to 100000", c.Timeline, DefaultTimeline)
	}
	switch {
	case c.Heartbeat == 0:
		c.Heartbeat = DefaultHeartbeat
	case c.Heartbeat < 100*time.Millisecond:
		return c, fmt.Errorf("dashboard: Heartbeat %v out of range: want 0 (default %v) or 100ms or more", c.Heartbeat, DefaultHeartbeat)
	}
	switch {
	case c.MaxStreams == 0:
		c.MaxStreams = DefaultMaxStreams
	case c.MaxStreams < 1 || c.MaxStreams > MaxMaxStreams:
		return c, fmt.Errorf("dashboard: MaxStreams %d out of range: want 0 (default %d) or 1 to %d", c.MaxStreams, DefaultMaxStreams, MaxMaxStreams)
	}
	if c.Title == "" {
		c.Title = DefaultTitle
	}
	if c.Actions && len(c.Token) < MinTokenLength {
		return c, fmt.Errorf("dashboard: Token of %d bytes out of range: want %d bytes or more when Actions is true", len(c.Token), MinTokenLength)
	}
	if !c.Actions && c.Token != "" {
		return c, errors.New("dashboard: Token set with Actions false: want an empty Token, or Actions true")
	}
	if c.ReadToken != "" && len(c.ReadToken) < MinTokenLength {
		return c, fmt.Errorf("dashboard: ReadToken of %d bytes out of range: want 0 (reading open) or %d bytes or more", len(c.ReadToken), MinTokenLength)
	}
	if c.Clock == nil {
		c.Clock = clock.Real()
	}
	return c, nil
}

// Dashboard is the web dashboard: an http.Handler serving the page, the
// JSON status and the live event stream of its policies. Create one with
// New, and Close it when done. It is safe for concurrent use.
type Dashboard struct {
	cfg          Config
	clk          clock.Clock
	mux          *http.ServeMux
	refresh      chan struct{} // a state change to push; capacity 1
	evSub        *fusebox.Subscription
	writeTimeout time.Duration // bound of each write to an event stream
	readCookie   string        // the value of the read cookie, with ReadToken

	mu        sync.Mutex
	named     []named // in the order added
	latencies map[string]*Latency
	tracks    map[string]*track
	order     []string // row names, in display order
	seq       uint64   // samples taken
	lastAt    int64    // Nanotime of the latest sample
	sampled   bool     // lastAt is set
	changes   []Change // ring of the timeline
	changeN   uint64   // id of the latest change
	// byBreaker maps the Config.Name of the breakers of the rows to their
	// row, "" when several rows share it; rebuilt from the rows, so it
	// holds only live ones.
	byBreaker map[string]string
	addID     uint64 // id of the latest named
	subs      map[*subscriber]struct{}
	refused   uint64 // event streams refused: MaxStreams were open
	running   bool
	closed    bool
	stop      chan struct{}
	done      chan struct{} // closed when the sampler has stopped
	closing   chan struct{} // closed by Close: event streams end

	// The messages of the event streams: each sample is a frame, numbered
	// from 1 (frameID is the latest); frameSeq and frameChange are the
	// sample and the change it covers up to. When a stream is open, a
	// frame's "update" message is built and encoded once for them all:
	// frames holds the latest published ones, oldest first. full caches
	// the "status" message (the full status) of a frame, a stream's
	// first. pubMu orders samples' publication, fullMu the builds of full;
	// either is taken before mu, never with it.
	pubMu       sync.Mutex
	fullMu      sync.Mutex
	frameID     uint64
	frameSeq    uint64
	frameChange uint64
	frames      []frame
	full        frame
	fullAt      int64 // Nanotime of the build of full

	// builds counts the statuses built, for the tests.
	builds atomic.Uint64
}

// named is a policy given to Add; id tells its rows from those of a
// policy added later under the same name.
type named struct {
	name   string
	policy any
	id     uint64
}

// New returns a dashboard of cfg's sources, or an error naming the first
// invalid field of cfg. With cfg.Events set it subscribes to the bus at
// once, so the timeline holds the state changes from now on; Close
// unsubscribes.
func New(cfg Config) (*Dashboard, error) {
	c, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	c.Sources = append([]Source(nil), c.Sources...)
	d := &Dashboard{
		cfg:          c,
		clk:          c.Clock,
		refresh:      make(chan struct{}, 1),
		writeTimeout: max(twice(c.Heartbeat), MinStreamWriteTimeout),
		latencies:    map[string]*Latency{},
		tracks:       map[string]*track{},
		byBreaker:    map[string]string{},
		subs:         map[*subscriber]struct{}{},
		closing:      make(chan struct{}),
	}
	if c.ReadToken != "" {
		d.readCookie = readCookieValue(c.ReadToken)
	}
	d.mux = http.NewServeMux()
	d.routes()
	if c.Events != nil {
		d.evSub = c.Events.Subscribe(d.onEvent, 0)
	}
	return d, nil
}

// ServeHTTP serves the page, /status.json, /events and /actions.
func (d *Dashboard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	d.mux.ServeHTTP(w, r)
}

// Add shows policy under name. policy is one of the types the package doc
// lists; a *fusebox.Pipeline (or anything with a Policies method) shows as
// one row per layer, named "name/kind". It returns an error when name is
// empty or taken, or when the dashboard cannot read policy.
func (d *Dashboard) Add(name string, policy any) error {
	if name == "" {
		return errors.New("dashboard: Add: empty name")
	}
	if policy == nil || !supported(policy) {
		return fmt.Errorf("dashboard: Add %q: cannot read a %T: want a policy of this module, a *fusebox.Pipeline, or a type with a Snapshot() any method", name, policy)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, n := range d.named {
		if n.name == name {
			return fmt.Errorf("dashboard: Add %q: name already taken", name)
		}
	}
	d.addID++
	d.named = append(d.named, named{name: name, policy: policy, id: d.addID})
	if b, ok := policy.(*breaker.Breaker); ok {
		// Its row is name: index it now, so that its state changes land
		// on that row even before the first sample reads it.
		bn := b.Config().Name
		if row, dup := d.byBreaker[bn]; dup && row != name {
			d.byBreaker[bn] = ""
		} else {
			d.byBreaker[bn] = name
		}
	}
	return nil
}

// Remove stops showing the policy added under name and forgets the
// Latency of that name. It reports whether there was either. Their rows
// go at once: neither the status nor operator actions reach them any
// more.
func (d *Dashboard) Remove(name string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	l, found := d.latencies[name]
	delete(d.latencies, name)
	var id uint64
	for i, n := range d.named {
		if n.name == name {
			d.named = append(d.named[:i:i], d.named[i+1:]...)
			id, found = n.id, true
			break
		}
	}
	if !found {
		return false
	}
	for row, t := range d.tracks {
		if (id != 0 && t.cur.addID == id) || (l != nil && t.cur.latOwn && t.cur.lat == l) {
			delete(d.tracks, row)
		}
	}
	d.order = slices.DeleteFunc(d.order, func(row string) bool { return d.tracks[row] == nil })
	d.indexBreakersLocked()
	return true
}

// LatencyPolicy returns the Latency policy of name, made on first use: the
// same one for every call with the same name. Its percentiles show on the
// row of that name (a policy added under name, a registry key, or a
// pipeline layer "name/kind"), or on a row of their own when there is
// none.
func (d *Dashboard) LatencyPolicy(name string) *Latency {
	d.mu.Lock()
	defer d.mu.Unlock()
	l, ok := d.latencies[name]
	if !ok {
		l = &Latency{name: name, clk: d.clk}
		d.latencies[name] = l
	}
	return l
}

// Start starts the sampler now rather than with the first viewer, so that
// the history and, without an Events bus, the timeline cover the time
// before anyone looks. It is a no-op when the sampler runs or the
// dashboard is closed.
func (d *Dashboard) Start() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.startLocked()
}

// startLocked starts the sampler unless it runs. Requires d.mu.
func (d *Dashboard) startLocked() {
	if d.running || d.closed {
		return
	}
	d.running = true
	d.stop = make(chan struct{})
	d.done = make(chan struct{})
	go d.run(d.stop, d.done)
}

// Close stops the sampler and waits for it, ends every event stream (one
// blocked writing to a client that stopped reading as well) and
// unsubscribes from the Events bus. The page and /status.json still
// answer, with samples taken on demand. Close is idempotent.
func (d *Dashboard) Close() error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil
	}
	d.closed = true
	close(d.closing)
	running, stop, done := d.running, d.stop, d.done
	d.running = false
	subs := make([]*subscriber, 0, len(d.subs))
	for s := range d.subs {
		subs = append(subs, s)
	}
	d.mu.Unlock()
	for _, s := range subs {
		s.end()
	}
	if running {
		close(stop)
		<-done
	}
	if d.evSub != nil {
		d.evSub.Close()
	}
	return nil
}

// run is the sampler goroutine.
func (d *Dashboard) run(stop, done chan struct{}) {
	defer close(done)
	d.mu.Lock()
	first := d.seq == 0 // else a viewer's first message just took a sample
	d.mu.Unlock()
	if first {
		d.sample(true)
	}
	t := d.clk.NewTimer(d.cfg.Interval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C():
			d.sample(true)
			t.Reset(d.cfg.Interval)
		case <-d.refresh:
			d.sample(false)
		}
	}
}

// poke asks the sampler to push the current state at once, if it runs.
func (d *Dashboard) poke() {
	select {
	case d.refresh <- struct{}{}:
	default:
	}
}

// twice returns 2×d, saturated at the largest Duration.
func twice(d time.Duration) time.Duration {
	if d > math.MaxInt64/2 {
		return math.MaxInt64
	}
	return 2 * d
}
