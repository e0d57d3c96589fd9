// Package dashboard serves a live web page of every policy of a service:
// each circuit breaker's state, and for every policy its request rate,
// error and slow-call rates, rejections, latency percentiles and sparklines
// of the last samples, with a timeline of state changes. It is an
// [net/http.Handler] to mount on an internal mux; its assets (HTML, CSS,
// JavaScript, no external fonts or CDN) are embedded in the binary.
//
// # Sources
//
// The dashboard reads policies, it does not own them. It shows:
//
//   - every member of each Config.Sources entry: anything with a
//     Snapshot() []registry.Member method, such as a *registry.Registry of
//     breakers or pipelines (a pipeline member shows as one row per layer,
//     named "key/kind"), or a fuseboxhttp.RoundTripper, whose per-host
//     pipelines show the same way and whose breakers operator actions
//     reach through its Range method;
//   - every policy given to [Dashboard.Add] under a name: a
//     *breaker.Breaker, *bulkhead.Bulkhead, *bulkhead.Pool,
//     *ratelimit.Bucket, *ratelimit.Window, *ratelimit.Keyed,
//     *retry.Policy, *retry.Budget, *timeout.Policy, *fallback.Policy,
//     *fallback.Cache, *hedge.Policy, a *fusebox.Pipeline, or anything with
//     a Snapshot() any method (registry.Snapshotter).
//
// Breaker snapshots carry no latencies. For latency percentiles put the
// policy returned by [Dashboard.LatencyPolicy] into the pipeline (innermost,
// next to the call): it records each call's duration in a small lock-free
// histogram, shown on the row of the same name (or on its own row).
//
// # Sampling
//
// A sampler reads every policy's snapshot each Config.Interval (1 s by
// default) and turns successive snapshots' totals into rates: calls per
// second, the fraction of calls that failed or were slow, rejections per
// second. The headline numbers cover the last 10 seconds; each policy also
// keeps its last Config.History samples (120 by default) for sparklines.
// The sampler goroutine starts with the first viewer of the live page (or
// with [Dashboard.Start]) and runs until [Dashboard.Close]. Without it,
// [Dashboard.Status] (and so /status.json) takes a sample on the spot.
//
// State changes go to a timeline: from the Config.Events bus when one is
// given (pass the same bus to the breakers' Config.Events), as they
// happen, and pushed to viewers at once; otherwise detected by comparing
// successive samples. Events name a breaker by its Config.Name, so give
// breakers distinct names (a change of a name several rows share goes on
// the timeline under that name). Events the dashboard's subscription
// loses (its buffer full) are counted in Status.EventsDropped and shown
// under the timeline.
//
// # Endpoints
//
// Relative to where the handler is mounted:
//
//	GET  /             the page (?token=<token> with Config.ReadToken)
//	GET  /status.json  the Status, with every policy's history
//	GET  /events       Server-Sent Events: "status" (a full Status) on
//	                   connect, then "update" (only new samples and
//	                   changes) after each sample and each state change,
//	                   and a comment line as a heartbeat; a stream that
//	                   fell behind gets a "status" again
//	POST /actions      operator actions on breakers (force-open, reset,
//	                   disable), only with Config.Actions
//
// A stream whose client stops reading ends when a write to it takes
// longer than twice Config.Heartbeat (at least MinStreamWriteTimeout), and
// at once on [Dashboard.Close]; the page reconnects by itself. At most
// Config.MaxStreams streams (64 by default) are open at once: beyond
// that, GET /events answers 503 Service Unavailable with a Retry-After
// and closes the connection, so that a refused stream holds no goroutine;
// Status.Streams and Status.StreamsRefused count the open and the refused
// ones. Each sample's "update" is built and encoded once, and the same
// bytes go to every stream; the "status" of a stream's first message is
// shared likewise by the streams that start within a second.
//
// Mount it under a prefix with [net/http.StripPrefix], the prefix ending
// in a slash: mux.Handle("/debug/fusebox/", http.StripPrefix("/debug/fusebox", d)).
// The page uses relative URLs, so it works under any prefix.
//
// # Operator actions
//
// Actions are off by default, and then /actions answers 404. With
// Config.Actions, a request must carry "Authorization: Bearer <Token>"
// (the scheme in any case; the token compared in constant time) and a JSON
// body; a missing token gets 401, a wrong one 403. A policy gone with
// [Dashboard.Remove] or from its source gets 404. Since a browser never attaches that header by itself and
// a cross-origin page cannot send it without a CORS preflight the
// dashboard never grants, the endpoint is safe from cross-site request
// forgery; cross-origin POSTs are refused outright as well. The page shows
// action buttons only when actions are enabled, and asks the operator for
// the token, which it keeps in the tab's sessionStorage.
//
// # Read token
//
// The dashboard shows names, states and rates of internal dependencies:
// mount it on an internal listener, behind authentication, or give it a
// Config.ReadToken. With one, the page, /status.json and /events answer
// 401 without a token and 403 with a wrong one (the static assets, which
// hold nothing of the service's, stay open). A client sends
// "Authorization: Bearer <ReadToken>"; the action Token is accepted for
// reading too, while the ReadToken never grants actions. Since a
// browser's EventSource cannot send a header, a browser opens the page as
// ".../?token=<token>": the page's answer sets a cookie (HttpOnly,
// SameSite=Strict, scoped to the dashboard's path, Secure over TLS, for
// the browser session) that lets the page and its event stream in, and
// the page takes the token out of the address bar. The cookie holds a
// value derived from the ReadToken, neither token itself; only the page
// takes a token from the URL, where it could end up in logs and history,
// so open the page that way from a trusted place (a bookmark, an
// operator's runbook), and prefer the header for scripts. Tokens are
// compared in constant time.
package dashboard
