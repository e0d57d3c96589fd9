package dashboard

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/fusebox-go/fusebox/breaker"
	"github.com/fusebox-go/fusebox/clock"
)

const testReadToken = "read-token-0123456789abcdef"

// request sends method path to h with the header pairs hdr, through the
// handler.
func request(h http.Handler, method, target string, hdr ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, target, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Add(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// readCookie returns the cookie a response sets, or nil.
func readCookie(rec *httptest.ResponseRecorder) *http.Cookie {
	for _, c := range rec.Result().Cookies() {
		if c.Name == "fusebox_dashboard" {
			return c
		}
	}
	return nil
}

func newReadTokenDashboard(t *testing.T) *Dashboard {
	t.Helper()
	clk := clock.NewFake(time.Unix(1700000000, 0))
	d := newDashboard(t, Config{Clock: clk, ReadToken: testReadToken, Actions: true, Token: testToken})
	if err := d.Add("api", newBreaker(t, breaker.Config{Name: "svc", Clock: clk})); err != nil {
		t.Fatal(err)
	}
	return d
}

// With Config.ReadToken, the page, /status.json and /events answer 401
// without a token and 403 with a wrong one; the read token and the action
// token open them, as a bearer header.
func TestReadTokenRequired(t *testing.T) {
	d := newReadTokenDashboard(t)
	for _, c := range []struct {
		name string
		hdr  []string
		code int
	}{
		{"no token", nil, http.StatusUnauthorized},
		{"wrong token", []string{"Authorization", "Bearer nope"}, http.StatusForbidden},
		{"read token prefix", []string{"Authorization", "Bearer " + testReadToken[:16]}, http.StatusForbidden},
		{"read token plus more", []string{"Authorization", "Bearer " + testReadToken + "x"}, http.StatusForbidden},
		{"forged cookie", []string{"Cookie", "fusebox_dashboard=" + testReadToken}, http.StatusUnauthorized},
		{"read token", []string{"Authorization", "Bearer " + testReadToken}, http.StatusOK},
		{"read token, scheme in any case", []string{"Authorization", "bEaReR " + testReadToken}, http.StatusOK},
		{"action token", []string{"Authorization", "Bearer " + testToken}, http.StatusOK},
	} {
		for _, path := range []string{"/", "/status.json"} {
			rec := request(d, "GET", path, c.hdr...)
			if rec.Code != c.code {
				t.Errorf("%s: GET %s = %d %.60q, want %d", c.name, path, rec.Code, rec.Body, c.code)
			}
			if rec.Code == http.StatusUnauthorized && rec.Header().Get("WWW-Authenticate") == "" {
				t.Errorf("%s: GET %s = 401 without WWW-Authenticate", c.name, path)
			}
		}
	}
	// The event stream, on a real server.
	srv := httptest.NewServer(d)
	t.Cleanup(srv.Close)
	client := &http.Client{Timeout: 10 * time.Second}
	for _, c := range []struct {
		name string
		hdr  []string
		code int
	}{
		{"no token", nil, http.StatusUnauthorized},
		{"wrong token", []string{"Authorization", "Bearer nope"}, http.StatusForbidden},
		{"token as a query parameter", nil, http.StatusUnauthorized}, // only the page takes one
	} {
		url := srv.URL + "/events"
		if strings.Contains(c.name, "query") {
			url += "?token=" + testReadToken
		}
		if s, resp := tryStream(t, client, url, c.hdr...); s != nil || resp.StatusCode != c.code {
			t.Errorf("%s: GET /events = %d, want %d", c.name, resp.StatusCode, c.code)
		}
	}
	for _, tok := range []string{testReadToken, testToken} {
		s := openStreamWith(t, client, srv.URL+"/events", "Authorization", "Bearer "+tok)
		if ev, st := s.next(); ev != "status" || len(st.Policies) != 1 {
			t.Errorf("stream with a token: %q, %d policies", ev, len(st.Policies))
		}
		s.close()
	}
	// The assets hold nothing of the service's: they need no token.
	if rec := request(d, "GET", "/app.js"); rec.Code != http.StatusOK {
		t.Errorf("GET /app.js without a token = %d, want 200", rec.Code)
	}
	// The read token does not grant actions.
	if rec := postAction(d, "Bearer "+testReadToken, "application/json", `{"policy":"api","action":"force-open"}`); rec.Code != http.StatusForbidden {
		t.Errorf("POST /actions with the read token = %d, want 403", rec.Code)
	}
}

// The page opened with ?token= (the read or the action token) sets an
// HttpOnly, SameSite=Strict cookie that opens the page, /status.json and
// the event stream, whose EventSource cannot send a header. The cookie
// holds neither token.
func TestReadTokenCookie(t *testing.T) {
	d := newReadTokenDashboard(t)
	if rec := request(d, "GET", "/?token=nope"); rec.Code != http.StatusForbidden || readCookie(rec) != nil {
		t.Errorf("GET /?token=nope = %d, cookie %v; want 403 and no cookie", rec.Code, readCookie(rec))
	}
	rec := request(d, "GET", "/?token="+testReadToken)
	c := readCookie(rec)
	if rec.Code != http.StatusOK || c == nil {
		t.Fatalf("GET /?token=<read token> = %d, cookie %v; want 200 and a cookie", rec.Code, c)
	}
	if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" || c.Secure || c.MaxAge != 0 || !c.Expires.IsZero() {
		t.Errorf("cookie %v: want HttpOnly, SameSite=Strict, Path=/, a session cookie, not Secure over http", c)
	}
	if strings.Contains(c.Value, testReadToken) || strings.Contains(c.Value, testToken) || c.Value == "" {
		t.Errorf("cookie value %q holds a token", c.Value)
	}
	if cc := rec.Header().Get("Cache-Control"); cc != "no-store" {
		t.Errorf("page setting the cookie: Cache-Control %q, want no-store", cc)
	}
	if rec := request(d, "GET", "/?token="+testToken); readCookie(rec) == nil || readCookie(rec).Value != c.Value {
		t.Errorf("GET /?token=<action token> = %d, cookie %v; want the same read cookie", rec.Code, readCookie(rec))
	}
	cookie := []string{"Cookie", c.Name + "=" + c.Value}
	for _, path := range []string{"/", "/status.json"} {
		if rec := request(d, "GET", path, cookie...); rec.Code != http.StatusOK {
			t.Errorf("GET %s with the cookie = %d, want 200", path, rec.Code)
		}
	}
	// A proxy's own Authorization scheme does not hide the cookie.
	if rec := request(d, "GET", "/status.json", append(cookie, "Authorization", "Basic dXNlcjpwYXNz")...); rec.Code != http.StatusOK {
		t.Errorf("GET /status.json with the cookie and Basic auth = %d, want 200", rec.Code)
	}
	srv := httptest.NewServer(d)
	t.Cleanup(srv.Close)
	s := openStreamWith(t, &http.Client{Timeout: 10 * time.Second}, srv.URL+"/events", cookie...)
	if ev, _ := s.next(); ev != "status" {
		t.Errorf("stream with the cookie: first event %q", ev)
	}
	// The cookie does not grant actions.
	req := httptest.NewRequest("POST", "/actions", strings.NewReader(`{"policy":"api","action":"force-open"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Cookie", cookie[1])
	arec := httptest.NewRecorder()
	d.ServeHTTP(arec, req)
	if arec.Code != http.StatusUnauthorized {
		t.Errorf("POST /actions with the cookie = %d, want 401", arec.Code)
	}
}

// The cookie is scoped to where the dashboard is mounted, and Secure over
// TLS.
func TestReadTokenCookieScope(t *testing.T) {
	d := newReadTokenDashboard(t)
	mux := http.NewServeMux()
	mux.Handle("/debug/fusebox/", http.StripPrefix("/debug/fusebox", d))
	rec := request(mux, "GET", "https://example.com/debug/fusebox/?token="+testReadToken)
	c := readCookie(rec)
	if rec.Code != http.StatusOK || c == nil || c.Path != "/debug/fusebox/" || !c.Secure {
		t.Fatalf("GET /debug/fusebox/?token= over TLS = %d, cookie %v; want Path=/debug/fusebox/ and Secure", rec.Code, c)
	}
	// A browser sends every cookie whose path matches, the longest path
	// first: another of the same name (a dashboard mounted above this
	// one) does not hide this one.
	rec = request(mux, "GET", "/debug/fusebox/status.json", "Cookie", c.Name+"=other; "+c.Name+"="+c.Value)
	if rec.Code != http.StatusOK {
		t.Errorf("GET /debug/fusebox/status.json with another cookie of the same name, then the right one = %d, want 200", rec.Code)
	}
}
