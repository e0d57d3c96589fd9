package dashboard

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fusebox-go/fusebox/breaker"
	"github.com/fusebox-go/fusebox/bulkhead"
	"github.com/fusebox-go/fusebox/clock"
)

const testToken = "s3cret-token-0123456789"

func postAction(d http.Handler, auth, ctype, body string, hdr ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest("POST", "/actions", strings.NewReader(body))
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	req.RemoteAddr = "192.0.2.1:1234"
	rec := httptest.NewRecorder()
	d.ServeHTTP(rec, req)
	return rec
}

func TestActions(t *testing.T) {
	clk := clock.NewFake(time.Unix(1700000000, 0))
	var mu sync.Mutex
	var audit []Action
	d := newDashboard(t, Config{Clock: clk, Actions: true, Token: testToken, OnAction: func(a Action) {
		mu.Lock()
		audit = append(audit, a)
		mu.Unlock()
	}})
	b := newBreaker(t, breaker.Config{Name: "svc", Clock: clk})
	bh, _ := bulkhead.New(bulkhead.Config{Clock: clk})
	if err := d.Add("api", b); err != nil {
		t.Fatal(err)
	}
	if err := d.Add("pool", bh); err != nil {
		t.Fatal(err)
	}
	st := d.Status()
	if !st.Actions || strings.Join(policy(t, st, "api").Actions, ",") != "force-open,reset,disable" || policy(t, st, "pool").Actions != nil {
		t.Fatalf("status does not offer the breaker's actions: %+v", st)
	}

	const js = "application/json"
	forceOpen := `{"policy":"api","action":"force-open"}`
	for _, c := range []struct {
		name        string
		auth, ctype string
		body        string
		hdr         []string
		code        int
		err         string
	}{
		{"no token", "", js, forceOpen, nil, 401, "missing Authorization"},
		{"wrong token", "Bearer nope", js, forceOpen, nil, 403, "wrong token"},
		{"token prefix", "Bearer " + testToken[:10], js, forceOpen, nil, 403, "wrong token"},
		{"token plus more", "Bearer " + testToken + "x", js, forceOpen, nil, 403, "wrong token"},
		{"basic auth", "Basic " + testToken, js, forceOpen, nil, 403, "wrong token"},
		{"no space", "Bearer" + testToken, js, forceOpen, nil, 403, "wrong token"},
		{"scheme prefix", "Bearers " + testToken, js, forceOpen, nil, 403, "wrong token"},
		{"form body", "Bearer " + testToken, "application/x-www-form-urlencoded", "policy=api&action=force-open", nil, 415, "application/json"},
		{"cross-site", "Bearer " + testToken, js, forceOpen, []string{"Sec-Fetch-Site", "cross-site"}, 403, ""},
		{"bad json", "Bearer " + testToken, js, `{"policy":`, nil, 400, "bad body"},
		{"unknown field", "Bearer " + testToken, js, `{"policy":"api","action":"reset","x":1}`, nil, 400, "bad body"},
		{"unknown action", "Bearer " + testToken, js, `{"policy":"api","action":"explode"}`, nil, 400, "unknown action"},
		{"unknown policy", "Bearer " + testToken, js, `{"policy":"nope","action":"reset"}`, nil, 404, "no policy"},
		{"not a breaker", "Bearer " + testToken, js, `{"policy":"pool","action":"reset"}`, nil, 409, "not a breaker"},
	} {
		rec := postAction(d, c.auth, c.ctype, c.body, c.hdr...)
		if rec.Code != c.code || !strings.Contains(rec.Body.String(), c.err) {
			t.Errorf("%s: %d %s, want %d with %q", c.name, rec.Code, rec.Body, c.code, c.err)
		}
		if b.State() != breaker.Closed {
			t.Fatalf("%s: the breaker is %v: a refused request acted", c.name, b.State())
		}
	}
	if rec := postAction(d, "", "", ""); rec.Header().Get("WWW-Authenticate") == "" {
		t.Error("401 without WWW-Authenticate")
	}
	req := httptest.NewRequest("GET", "/actions", nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	rec := httptest.NewRecorder()
	d.ServeHTTP(rec, req)
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("GET /actions = %d, want 405", rec.Code)
	}

	for _, c := range []struct {
		action string
		want   breaker.State
	}{{"force-open", breaker.ForcedOpen}, {"disable", breaker.Disabled}, {"reset", breaker.Closed}} {
		rec := postAction(d, "Bearer "+testToken, "application/json; charset=utf-8", `{"policy":"api","action":"`+c.action+`"}`)
		if rec.Code != 200 {
			t.Fatalf("%s: %d %s", c.action, rec.Code, rec.Body)
		}
		if b.State() != c.want {
			t.Fatalf("%s: breaker %v, want %v", c.action, b.State(), c.want)
		}
		var a Action
		if err := json.Unmarshal(rec.Body.Bytes(), &a); err != nil || a.To != c.want.String() || a.Policy != "api" {
			t.Errorf("%s: response %s (%v)", c.action, rec.Body, err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(audit) != 3 || audit[0].Action != "force-open" || audit[0].From != "closed" || audit[0].RemoteAddr != "192.0.2.1:1234" || !audit[0].At.Equal(clk.Now()) {
		t.Errorf("audit = %+v", audit)
	}
}

// RFC 9110, section 11.1: the authentication scheme is case-insensitive.
func TestActionBearerSchemeAnyCase(t *testing.T) {
	clk := clock.NewFake(time.Unix(1700000000, 0))
	d := newDashboard(t, Config{Clock: clk, Actions: true, Token: testToken})
	b := newBreaker(t, breaker.Config{Name: "svc", Clock: clk})
	if err := d.Add("api", b); err != nil {
		t.Fatal(err)
	}
	d.Status()
	for _, scheme := range []string{"bearer", "BEARER", "bEaReR"} {
		b.Reset()
		rec := postAction(d, scheme+" "+testToken, "application/json", `{"policy":"api","action":"force-open"}`)
		if rec.Code != http.StatusOK || b.State() != breaker.ForcedOpen {
			t.Errorf(`"Authorization: %s <token>" = %d %s, breaker %v; want 200 and forced-open`, scheme, rec.Code, strings.TrimSpace(rec.Body.String()), b.State())
		}
	}
}

// Actions reach only policies the dashboard shows: Remove takes the
// operator's handle on a policy at once, not at the next sample.
func TestActionOnRemovedPolicy(t *testing.T) {
	clk := clock.NewFake(time.Unix(1700000000, 0))
	d := newDashboard(t, Config{Clock: clk, Actions: true, Token: testToken})
	b := newBreaker(t, breaker.Config{Name: "svc", Clock: clk})
	if err := d.Add("api", b); err != nil {
		t.Fatal(err)
	}
	d.Status()
	d.Remove("api")
	rec := postAction(d, "Bearer "+testToken, "application/json", `{"policy":"api","action":"force-open"}`)
	if rec.Code != http.StatusNotFound || b.State() != breaker.Closed {
		t.Errorf("force-open of a removed policy: %d %s, breaker %v; want 404 and the breaker untouched", rec.Code, strings.TrimSpace(rec.Body.String()), b.State())
	}
}

func TestTokenCompare(t *testing.T) {
	d := newDashboard(t, Config{Actions: true, Token: testToken, ReadToken: testReadToken})
	for tok, want := range map[string]bool{testToken: true, "": false, testToken[1:]: false, strings.ToUpper(testToken): false, testReadToken: false} {
		if got := d.tokenOK(tok); got != want {
			t.Errorf("tokenOK(%q) = %v", tok, got)
		}
	}
	for tok, want := range map[string]bool{testReadToken: true, testToken: true, "": false, testReadToken[1:]: false, strings.ToUpper(testReadToken): false} {
		if got := d.readTokenOK(tok); got != want {
			t.Errorf("readTokenOK(%q) = %v", tok, got)
		}
	}
	// Without actions, the (empty) action token grants nothing.
	d = newDashboard(t, Config{ReadToken: testReadToken})
	if d.readTokenOK("") {
		t.Error(`readTokenOK("") without actions = true`)
	}
}
