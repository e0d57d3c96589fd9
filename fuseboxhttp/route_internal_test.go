package fuseboxhttp

import (
	"context"
	"net/http"
	"testing"
)

func TestRouteMatch(t *testing.T) {
	tests := []struct {
		template string
		path     string
		want     bool
	}{
		{"/", "/", true},
		{"/", "", true},
		{"/", "/a", false},
		{"/users", "/users", true},
		{"/users", "/users/", false},
		{"/users/", "/users/", true},
		{"/users/", "/users", false},
		{"/users/{id}", "/users/42", true},
		{"/users/{id}", "/users/", false},
		{"/users/{id}", "/users", false},
		{"/users/{id}", "/users/42/", false},
		{"/users/{id}", "/users/42/orders", false},
		{"/users/{id}", "/orders/42", false},
		{"/users/{id}/orders", "/users/42/orders", true},
		{"/users/{id}/orders", "/users//orders", false},
		{"/files/{path...}", "/files/", true},
		{"/files/{path...}", "/files/a/b/c.txt", true},
		{"/files/{path...}", "/files", false},
		{"/files/{path...}", "/other/a", false},
		{"/{all...}", "/", true},
		{"/{all...}", "/x/y", true},
		{"/{a}/{b}", "/x/y", true},
		{"/{a}/{b}", "/x", false},
		{"/a", "a", false},
	}
	for _, tt := range tests {
		r, err := parseRoute(tt.template)
		if err != nil {
			t.Fatalf("parseRoute(%q): %v", tt.template, err)
		}
		if got := r.match(tt.path); got != tt.want {
			t.Errorf("%q matches %q = %v, want %v", tt.template, tt.path, got, tt.want)
		}
	}
}

func TestRouteMatchDoesNotAllocate(t *testing.T) {
	r, err := parseRoute("/users/{id}/orders/{order}")
	if err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() { r.match("/users/42/orders/7") }); n != 0 {
		t.Fatalf("match allocates %v times, want 0", n)
	}
}

func TestHostKey(t *testing.T) {
	req, _ := http.NewRequest(http.MethodGet, "HTTPS://API.Example.com:8443/a?b=c", nil)
	if got := hostKey(req); got != "https://api.example.com:8443" {
		t.Fatalf("hostKey = %q", got)
	}
	req.URL.Host = ""
	req.Host = "other.example"
	if got := hostKey(req); got != "https://other.example" {
		t.Fatalf("hostKey with only Request.Host = %q", got)
	}
}

func TestStatusSet(t *testing.T) {
	var s statusSet
	for _, c := range []int{100, 404, 503, 599} {
		s.add(c)
	}
	for c := -1; c < 700; c++ {
		want := c == 100 || c == 404 || c == 503 || c == 599
		if s.has(c) != want {
			t.Fatalf("has(%d) = %v, want %v", c, s.has(c), want)
		}
	}
}

func TestParseBudget(t *testing.T) {
	tests := []struct {
		in   string
		want int64 // ms; -1 for invalid
	}{
		{"0", 0}, {"1500", 1500}, {" 20 ", 20}, {"", -1}, {"-5", -1}, {"1.5", -1}, {"abc", -1},
		{"999999999999", 999999999999}, {"1000000000000", -1}, {"+5", -1},
	}
	for _, tt := range tests {
		d, ok := parseBudget(tt.in)
		if tt.want < 0 {
			if ok {
				t.Errorf("parseBudget(%q) = %v, true; want invalid", tt.in, d)
			}
			continue
		}
		if !ok || d.Milliseconds() != tt.want {
			t.Errorf("parseBudget(%q) = %v, %v; want %dms", tt.in, d, ok, tt.want)
		}
	}
}

// uncomparableCtx is a context of a type == cannot compare.
type uncomparableCtx struct {
	context.Context
	tags []string
}

func TestSameContext(t *testing.T) {
	bg := context.Background()
	ctx, cancel := context.WithCancel(bg)
	defer cancel()
	a := uncomparableCtx{Context: bg, tags: []string{"a"}}
	b := uncomparableCtx{Context: bg, tags: []string{"a"}}
	for _, tc := range []struct {
		name string
		x, y context.Context
		want bool
	}{
		{"same", ctx, ctx, true},
		{"derived", bg, ctx, false},
		{"uncomparable type", a, b, false},
		{"uncomparable and other", a, bg, false},
	} {
		if got := sameContext(tc.x, tc.y); got != tc.want {
			t.Errorf("%s: sameContext = %v, want %v", tc.name, got, tc.want)
		}
	}
}
