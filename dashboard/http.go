package dashboard

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"html/template"
	"mime"
	"net/http"
	"sync"
	"time"

	"github.com/fusebox-go/fusebox"
	"github.com/fusebox-go/fusebox/breaker"
)

//go:embed assets
var assets embed.FS

var pageTemplate = template.Must(template.ParseFS(assets, "assets/index.html"))

// contentSecurityPolicy lets the page load only its own script and style
// and talk only to its own endpoints.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// maxActionBody bounds the body of POST /actions.
const maxActionBody = 4 << 10

func (d *Dashboard) routes() {
	d.mux.HandleFunc("GET /{$}", d.servePage)
	d.mux.HandleFunc("GET /app.js", serveAsset("assets/app.js", "text/javascript; charset=utf-8"))
	d.mux.HandleFunc("GET /app.css", serveAsset("assets/app.css", "text/css; charset=utf-8"))
	d.mux.HandleFunc("GET /favicon.svg", serveAsset("assets/favicon.svg", "image/svg+xml"))
	d.mux.HandleFunc("GET /status.json", d.serveStatus)
	d.mux.HandleFunc("GET /events", d.serveEvents)
	if d.cfg.Actions {
		d.mux.Handle("/actions", http.NewCrossOriginProtection().Handler(http.HandlerFunc(d.serveAction)))
	}
}

func securityHeaders(h http.Header) {
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
}

func (d *Dashboard) servePage(w http.ResponseWriter, r *http.Request) {
	status, setCookie := d.readAccess(r, true)
	if status != 0 {
		refuseRead(w, status, true)
		return
	}
	var buf bytes.Buffer
	if err := pageTemplate.Execute(&buf, struct{ Title string }{d.cfg.Title}); err != nil {
		http.Error(w, "dashboard: "+err.Error(), http.StatusInternalServerError)
		return
	}
	h := w.Header()
	securityHeaders(h)
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	if setCookie {
		d.setReadCookie(w, r)
		h.Set("Cache-Control", "no-store")
	}
	_, _ = w.Write(buf.Bytes())
}

func serveAsset(name, contentType string) http.HandlerFunc {
	body, err := assets.ReadFile(name)
	if err != nil {
		panic("dashboard: missing embedded asset " + name) // a build defect, caught by any test
	}
	return func(w http.ResponseWriter, _ *http.Request) {
		h := w.Header()
		securityHeaders(h)
		h.Set("Content-Type", contentType)
		h.Set("Cache-Control", "no-cache")
		_, _ = w.Write(body)
	}
}

// Status returns the dashboard's status with every policy's history, as
// /status.json serves it. When the sampler does not run, it takes a sample
// first.
func (d *Dashboard) Status() Status {
	d.mu.Lock()
	running := d.running
	d.mu.Unlock()
	if !running {
		d.sample(true)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.statusLocked(true, 0, 0, d.changeN)
}

func (d *Dashboard) serveStatus(w http.ResponseWriter, r *http.Request) {
	if status, _ := d.readAccess(r, false); status != 0 {
		refuseRead(w, status, false)
		return
	}
	body, err := json.Marshal(d.Status())
	if err != nil {
		writeError(w, http.StatusInternalServerError, "encoding the status: "+err.Error())
		return
	}
	h := w.Header()
	securityHeaders(h)
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	_, _ = w.Write(body)
}

// subscriber is one event stream. ch (capacity 1) says that there is
// something new; sent is the frame the stream has sent up to, written by
// its handler only.
type subscriber struct {
	ch   chan struct{}
	sent uint64

	// rc sets the stream's write deadlines: arm before each write, end
	// (from Close) to fail a write in progress at once, finish when the
	// handler returns. mu orders them, so that no write starts with a
	// fresh deadline after end. Deadlines are wall-clock times, so they
	// come from the time package, not from Config.Clock; a ResponseWriter
	// without deadlines (http.ErrNotSupported) writes without them.
	rc       *http.ResponseController
	timeout  time.Duration
	mu       sync.Mutex
	writing  bool // between arm and written
	ended    bool // by Close
	finished bool // the handler returned
}

// streamEndGrace bounds the write of the end of a stream (the last chunk)
// after its handler returned.
const streamEndGrace = time.Second

// errStreamEnded is what arm returns once Close has ended the stream.
var errStreamEnded = errors.New("dashboard: event stream ended by Close")

// arm gives the next write to the stream its deadline.
func (s *subscriber) arm() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return errStreamEnded
	}
	s.writing = true
	_ = s.rc.SetWriteDeadline(time.Now().Add(s.timeout))
	return nil
}

// written says that the write arm was for has returned.
func (s *subscriber) written() {
	s.mu.Lock()
	s.writing = false
	s.mu.Unlock()
}

// end makes the stream's write in progress, if any, fail at once, and any
// later one not start. A stream waiting for something to send sees
// Dashboard.closing and ends cleanly instead.
func (s *subscriber) end() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ended = true
	if s.writing && !s.finished {
		_ = s.rc.SetWriteDeadline(time.Unix(1, 0))
	}
}

// finish gives the end of the stream, which the server writes after the
// handler returns, a deadline of its own.
func (s *subscriber) finish() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.finished = true
	_ = s.rc.SetWriteDeadline(time.Now().Add(streamEndGrace))
}

func (s *subscriber) notify() {
	select {
	case s.ch <- struct{}{}:
	default:
	}
}

// Why subscribe refuses a stream.
var (
	errClosed  = errors.New("the dashboard is closed")
	errTooMany = errors.New("too many event streams open (Config.MaxStreams): retry later")
)

// streamRetryIn is the Retry-After, in seconds, of a stream refused with
// errTooMany.
const streamRetryIn = "5"

// subscribe registers an event stream writing through rc, starting the
// sampler, and returns the frame of its first message: the full status.
// It fails with errClosed when the dashboard is closed, errTooMany when
// Config.MaxStreams streams are open.
func (d *Dashboard) subscribe(rc *http.ResponseController) (*subscriber, frame, error) {
	d.mu.Lock()
	fresh := d.seq == 0 && !d.running && !d.closed && len(d.subs) < d.cfg.MaxStreams
	d.mu.Unlock()
	if fresh {
		d.sample(true) // the first message shows the policies
	}
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil, frame{}, errClosed
	}
	if len(d.subs) >= d.cfg.MaxStreams {
		d.refused++
		d.mu.Unlock()
		return nil, frame{}, errTooMany
	}
	s := &subscriber{ch: make(chan struct{}, 1), rc: rc, timeout: d.writeTimeout}
	d.subs[s] = struct{}{}
	d.startLocked()
	d.mu.Unlock()
	// The frames after the one of this message follow it.
	first, err := d.fullMessage()
	if err != nil {
		d.unsubscribe(s)
		return nil, frame{}, err
	}
	s.sent = first.id
	return s, first, nil
}

func (d *Dashboard) unsubscribe(s *subscriber) {
	d.mu.Lock()
	delete(d.subs, s)
	d.mu.Unlock()
}

// serveEvents streams the status as Server-Sent Events until the client
// goes away, a write takes longer than d.writeTimeout, or the dashboard is
// closed. Each write has its own deadline, which also lets the stream
// outlive the server's WriteTimeout.
func (d *Dashboard) serveEvents(w http.ResponseWriter, r *http.Request) {
	if status, _ := d.readAccess(r, false); status != 0 {
		refuseRead(w, status, false)
		return
	}
	rc := http.NewResponseController(w)
	sub, first, err := d.subscribe(rc)
	if err != nil {
		securityHeaders(w.Header())
		switch err {
		case errTooMany:
			// Closing the connection frees its goroutines at once: a
			// client that opens stream after stream holds none.
			w.Header().Set("Retry-After", streamRetryIn)
			w.Header().Set("Connection", "close")
			writeError(w, http.StatusServiceUnavailable, err.Error())
		case errClosed:
			writeError(w, http.StatusServiceUnavailable, err.Error())
		default:
			writeError(w, http.StatusInternalServerError, "encoding the status: "+err.Error())
		}
		return
	}
	defer d.unsubscribe(sub)
	defer sub.finish()

	h := w.Header()
	securityHeaders(h)
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	w.WriteHeader(http.StatusOK)

	// write writes b with the stream's write deadline.
	write := func(b []byte) error {
		if err := sub.arm(); err != nil {
			return err
		}
		defer sub.written()
		if _, err := w.Write(b); err != nil {
			return err
		}
		return rc.Flush()
	}
	if write([]byte("retry: 2000\n\n")) != nil || write(first.data) != nil {
		return
	}

	beat := d.clk.NewTimer(d.cfg.Heartbeat)
	defer beat.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-d.closing:
			return
		case <-sub.ch:
			fs, err := d.pending(sub.sent)
			if err != nil {
				return
			}
			for _, f := range fs {
				if write(f.data) != nil {
					return
				}
				sub.sent = f.id
			}
		case <-beat.C():
			if write(heartbeat) != nil {
				return
			}
			beat.Reset(d.cfg.Heartbeat)
		}
	}
}

// heartbeat is the comment line an idle event stream gets.
var heartbeat = []byte(": heartbeat\n\n")

// actionRequest is the body of POST /actions.
type actionRequest struct {
	Policy string `json:"policy"`
	Action string `json:"action"`
}

func (d *Dashboard) serveAction(w http.ResponseWriter, r *http.Request) {
	securityHeaders(w.Header())
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeError(w, http.StatusMethodNotAllowed, "use POST")
		return
	}
	auth := r.Header.Get("Authorization")
	if auth == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="fusebox dashboard"`)
		writeError(w, http.StatusUnauthorized, "missing Authorization: Bearer <token>")
		return
	}
	if token, ok := bearer(auth); !ok || !d.tokenOK(token) {
		writeError(w, http.StatusForbidden, "wrong token")
		return
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		writeError(w, http.StatusUnsupportedMediaType, "want Content-Type: application/json")
		return
	}
	var req actionRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxActionBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "bad body: "+err.Error())
		return
	}
	var do func(*breaker.Breaker)
	switch req.Action {
	case ActionForceOpen:
		do = (*breaker.Breaker).ForceOpen
	case ActionReset:
		do = (*breaker.Breaker).Reset
	case ActionDisable:
		do = (*breaker.Breaker).Disable
	default:
		writeError(w, http.StatusBadRequest, "unknown action "+quote(req.Action)+": want force-open, reset or disable")
		return
	}
	b, status, err := d.findBreaker(req.Policy)
	if err != nil {
		writeError(w, status, err.Error())
		return
	}
	from := b.State()
	do(b)
	a := Action{Policy: req.Policy, Action: req.Action, From: from.String(), To: b.State().String(), At: d.clk.Now(), RemoteAddr: r.RemoteAddr}
	d.poke()
	if d.cfg.OnAction != nil {
		d.cfg.OnAction(a)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(a)
}

// findBreaker returns the breaker of a row, with the HTTP status of the
// error when there is none.
func (d *Dashboard) findBreaker(name string) (*breaker.Breaker, int, error) {
	d.mu.Lock()
	t := d.tracks[name]
	var r reading
	if t != nil {
		r = t.cur
	}
	d.mu.Unlock()
	if t == nil {
		return nil, http.StatusNotFound, errors.New("no policy named " + quote(name))
	}
	if r.kind != KindBreaker {
		return nil, http.StatusConflict, errors.New(quote(name) + " is a " + r.kind + ", not a breaker")
	}
	if r.op != nil {
		return r.op, 0, nil
	}
	if d.actionable(r) {
		if b := rangeFind(d.cfg.Sources[r.opSource], r.opKey, r.opLayer); b != nil {
			return b, 0, nil
		}
		return nil, http.StatusNotFound, errors.New("no policy named " + quote(name) + ": it left its source")
	}
	return nil, http.StatusConflict, errors.New("breaker " + quote(name) + " cannot be acted on: its source offers no Range method to reach it")
}

// actionable reports whether an operator action can reach the breaker of
// r.
func (d *Dashboard) actionable(r reading) bool {
	if r.op != nil {
		return true
	}
	if r.opSource < 0 {
		return false
	}
	switch d.cfg.Sources[r.opSource].(type) {
	case rangeBreakers, rangePipelines, rangePolicies, rangeAny:
		return true
	}
	return false
}

// The Range methods of registries the dashboard can find breakers with.
type (
	rangeBreakers interface {
		Range(func(string, *breaker.Breaker) bool)
	}
	rangePipelines interface {
		Range(func(string, *fusebox.Pipeline) bool)
	}
	rangePolicies interface {
		Range(func(string, fusebox.Policy) bool)
	}
	rangeAny interface{ Range(func(string, any) bool) }
)

// rangeFind returns the breaker of key in src: the member itself, or its
// layer-th policy when layer is not negative.
func rangeFind(src Source, key string, layer int) *breaker.Breaker {
	var found any
	visit := func(k string, v any) bool {
		if k == key {
			found = v
			return false
		}
		return true
	}
	switch s := src.(type) {
	case rangeBreakers:
		s.Range(func(k string, v *breaker.Breaker) bool { return visit(k, v) })
	case rangePipelines:
		s.Range(func(k string, v *fusebox.Pipeline) bool { return visit(k, v) })
	case rangePolicies:
		s.Range(func(k string, v fusebox.Policy) bool { return visit(k, v) })
	case rangeAny:
		s.Range(visit)
	}
	if layer >= 0 {
		pl, ok := found.(policyLayers)
		if !ok {
			return nil
		}
		ps := pl.Policies()
		if layer >= len(ps) {
			return nil
		}
		found = ps[layer]
	}
	b, _ := found.(*breaker.Breaker)
	return b
}

func writeError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
