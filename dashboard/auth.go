package dashboard

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
)

// readCookieName names the cookie of Config.ReadToken.
const readCookieName = "fusebox_dashboard"

// readCookieValue derives the read cookie's value from the read token:
// the cookie grants reading, and tells nothing of the token.
func readCookieValue(readToken string) string {
	m := hmac.New(sha256.New, []byte(readToken))
	m.Write([]byte("fusebox dashboard read cookie"))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// equalToken compares a token with the configured one in constant time;
// the hashes make the time independent of the lengths too.
func equalToken(got, want string) bool {
	g, w := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(want))
	return subtle.ConstantTimeCompare(g[:], w[:]) == 1
}

// tokenOK reports whether token is the action Token.
func (d *Dashboard) tokenOK(token string) bool {
	return equalToken(token, d.cfg.Token)
}

// readTokenOK reports whether token grants reading: the ReadToken, or the
// action Token when actions are enabled. Both are compared, whatever the
// first says.
func (d *Dashboard) readTokenOK(token string) bool {
	read := equalToken(token, d.cfg.ReadToken)
	action := d.cfg.Actions && d.tokenOK(token)
	return read || action
}

// bearer returns the token of an "Authorization: Bearer <token>" header
// (the scheme in any case, RFC 9110 section 11.1); ok is false for another
// scheme.
func bearer(auth string) (token string, ok bool) {
	scheme, token, ok := strings.Cut(auth, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	return strings.TrimLeft(token, " "), true
}

// readAccess checks r's right to read the dashboard: it returns 0 when r
// may, else the status to refuse it with, 401 (no credential) or 403 (a
// wrong token). A bearer token decides; else, on the page (page true), a
// token query parameter, which the page's answer turns into the read
// cookie (setCookie); else the read cookie. Another Authorization scheme,
// a proxy's own, is left alone.
func (d *Dashboard) readAccess(r *http.Request, page bool) (status int, setCookie bool) {
	if d.cfg.ReadToken == "" {
		return 0, false
	}
	if tok, ok := bearer(r.Header.Get("Authorization")); ok {
		if d.readTokenOK(tok) {
			return 0, false
		}
		return http.StatusForbidden, false
	}
	if q := r.URL.Query(); page && q.Has("token") {
		if d.readTokenOK(q.Get("token")) {
			return 0, true
		}
		return http.StatusForbidden, false
	}
	for _, c := range r.CookiesNamed(readCookieName) {
		if subtle.ConstantTimeCompare([]byte(c.Value), []byte(d.readCookie)) == 1 {
			return 0, false
		}
	}
	return http.StatusUnauthorized, false
}

// refuseRead answers a request readAccess refused with status.
func refuseRead(w http.ResponseWriter, status int, page bool) {
	securityHeaders(w.Header())
	msg := "wrong token"
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="fusebox dashboard"`)
		msg = "this dashboard needs its read token: send Authorization: Bearer <token>, or open the page as ?token=<token>"
	}
	if page {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(http.StatusText(status) + ": " + msg + "\n"))
		return
	}
	writeError(w, status, msg)
}

// setReadCookie gives the browser the read cookie, scoped to the path the
// page was asked at (the dashboard's, whatever prefix was stripped).
func (d *Dashboard) setReadCookie(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{
		Name:     readCookieName,
		Value:    d.readCookie,
		Path:     pagePath(r),
		Secure:   r.TLS != nil,
		HttpOnly: true,
		SameSite: http.SameSiteStrictMode,
	})
}

// pagePath returns the path of the page as the client asked for it, up to
// its last slash: r.URL's has lost the prefix of http.StripPrefix,
// r.RequestURI has not.
func pagePath(r *http.Request) string {
	p := r.URL.EscapedPath()
	if u, err := url.ParseRequestURI(r.RequestURI); err == nil && u.Path != "" {
		p = u.EscapedPath()
	}
	i := strings.LastIndexByte(p, '/')
	if i < 0 {
		return "/"
	}
	return p[:i+1]
}
