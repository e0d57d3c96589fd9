package fuseboxhttp

import (
	"fmt"
	"net/http"
	"strings"
)

// hostKey is the default key: the URL's scheme and host.
func hostKey(r *http.Request) string {
	return strings.ToLower(r.URL.Scheme) + "://" + strings.ToLower(requestHost(r))
}

// requestHost is the host r goes to, as written: the URL's, else Host.
func requestHost(r *http.Request) string {
	if r.URL.Host != "" {
		return r.URL.Host
	}
	return r.Host
}

// routeMatcher keys requests by host and the first matching route template.
type routeMatcher struct {
	routes []route
}

// route is one parsed template.
type route struct {
	template string
	segs     []string // literal segments; "" where wild
	wild     []bool   // segment i is "{name}" (or "{name...}" when last and rest)
	rest     bool     // the last segment is "{name...}"
}

func newRouteMatcher(templates []string) (*routeMatcher, error) {
	if len(templates) == 0 {
		return nil, fmt.Errorf("fuseboxhttp: WithRouteKey: no templates: want at least one, such as \"/users/{id}\"")
	}
	m := &routeMatcher{}
	seen := make(map[string]bool, len(templates))
	for _, t := range templates {
		r, err := parseRoute(t)
		if err != nil {
			return nil, err
		}
		if seen[t] {
			return nil, fmt.Errorf("fuseboxhttp: WithRouteKey: template %q given twice", t)
		}
		seen[t] = true
		m.routes = append(m.routes, r)
	}
	return m, nil
}

func parseRoute(t string) (route, error) {
	if !strings.HasPrefix(t, "/") {
		return route{}, fmt.Errorf("fuseboxhttp: WithRouteKey: template %q does not start with \"/\"", t)
	}
	r := route{template: t}
	parts := strings.Split(t[1:], "/")
	for i, p := range parts {
		if !strings.ContainsAny(p, "{}") {
			r.segs = append(r.segs, p)
			r.wild = append(r.wild, false)
			continue
		}
		name, ok := strings.CutPrefix(p, "{")
		if ok {
			name, ok = strings.CutSuffix(name, "}")
		}
		rest := false
		if ok {
			name, rest = strings.CutSuffix(name, "...")
		}
		if !ok || name == "" || strings.ContainsAny(name, "{}") {
			return route{}, fmt.Errorf("fuseboxhttp: WithRouteKey: template %q: segment %q is neither literal nor a wildcard \"{name}\" or \"{name...}\"", t, p)
		}
		if rest && i != len(parts)-1 {
			return route{}, fmt.Errorf("fuseboxhttp: WithRouteKey: template %q: %q must be the last segment", t, p)
		}
		r.segs = append(r.segs, "")
		r.wild = append(r.wild, true)
		r.rest = rest
	}
	return r, nil
}

// match reports whether path matches the template. It does not allocate.
func (r *route) match(path string) bool {
	if path == "" {
		path = "/"
	}
	if path[0] != '/' {
		return false
	}
	rest := path[1:]
	last := len(r.segs) - 1
	for i := range r.segs {
		if i == last && r.rest {
			return true
		}
		seg, tail, more := strings.Cut(rest, "/")
		if r.wild[i] {
			if seg == "" {
				return false
			}
		} else if seg != r.segs[i] {
			return false
		}
		if i == last {
			return !more
		}
		if !more {
			return false
		}
		rest = tail
	}
	return false
}

// key is the route matcher's key function.
func (m *routeMatcher) key(req *http.Request) string {
	for i := range m.routes {
		if m.routes[i].match(req.URL.Path) {
			return hostKey(req) + m.routes[i].template
		}
	}
	return hostKey(req)
}
