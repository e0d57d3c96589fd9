// Package fuseboxhttp puts Fusebox policies around net/http: on the client
// side a RoundTripper that runs every request through a per-key pipeline
// (breaker, retry, bulkhead, ...); on the server side middleware that sheds
// load, limits rates, propagates deadlines and recovers from panics; health
// endpoints for orchestrators; and a graceful shutdown sequence.
//
// # Client
//
// [NewRoundTripper] wraps a base transport. Each request gets a key (scheme
// and host by default, "https://api.example.com"; or host and route
// template with [WithRouteKey]; or your own [WithKeyFunc]), and each key its
// own [fusebox.Pipeline], built once by the factory given to [WithPipeline].
// A client of an open-ended set of hosts (webhooks, crawlers) takes its
// pipelines from a registry.Registry instead, with [WithRegistry]: idle
// pipelines are evicted and their number is capped at the registry's
// MaxKeys, a hard bound. A pipeline whose breaker is open is evicted last,
// and then its host is still not called until the breaker's open period
// ends: the registry remembers the host (16 bytes, in a table of bounded
// size) and requests to it fail with an error matching fusebox.ErrOpen,
// as from the breaker itself. An attempt is one base.RoundTrip:
//
//   - A transport error, or a response whose status is a failure (500, 502,
//     503, 504, 408 and 429 by default; see [WithFailureStatuses]), is an
//     error for the policies: a status becomes a *retry.StatusError carrying
//     the code and the server's Retry-After, so a retry policy waits as long
//     as the server asked and a breaker counts the failure.
//   - The caller still gets the real response for a failure status, body
//     intact, with a nil error, unless a policy rejected the call: then the
//     response is nil and the error matches the rejection's sentinel
//     (errors.Is(err, fusebox.ErrOpen), ErrBulkheadFull, ErrRateLimited,
//     ErrClosed), also through the *url.Error of an http.Client.
//   - Only idempotent requests are retried: GET, HEAD, OPTIONS, TRACE, PUT
//     and DELETE, and any request carrying the idempotency header
//     ("Idempotency-Key" by default). The attempt errors of other requests
//     are marked with retry.Permanent, so a retry policy leaves them alone
//     while a breaker still counts them, and a hedge's extra attempt of
//     such a request fails at once without sending anything. A request
//     body is replayed through Request.GetBody; a request with a body and
//     no GetBody is not sent twice either.
//   - A protocol switch (101 Switching Protocols) comes back as net/http
//     gives it: its Body is the upgraded connection, an io.ReadWriteCloser.
//   - The body of a failed attempt's response is read ahead, up to 64 KiB,
//     so its connection goes back to the pool at once even when the attempt
//     is retried; the caller of the last attempt reads the same bytes.
//   - When the request's context has a deadline, every attempt carries the
//     time left in the deadline header ("X-Fusebox-Deadline-Ms", whole
//     milliseconds), which the [Deadline] middleware of the server turns back
//     into a context deadline.
//   - The call runs with fusebox.Do, so a fallback policy may answer with a
//     response of its own (an *http.Response value). The fallback's
//     context carries the request's key (fusebox.CallKeyFromContext),
//     unless the caller put its own there with fusebox.WithCallKey. The
//     caller gets the response with a nil error: a fallback that wants
//     its answer recognized marks the response (a header, say).
//
// The pipelines are reachable by key, whichever option built them:
// [RoundTripper.Range] visits them, and [RoundTripper.Snapshot] reports
// them as registry members, so that a RoundTripper is a dashboard source
// and a registry for fuseboxprom's Collector.AddRegistry: its per-host
// breakers are rows and series of their own.
//
// # Server
//
// Each middleware is a [Middleware] (func(http.Handler) http.Handler) made
// from a validated config; [Chain] composes them, first outermost:
//
//   - [LoadShedder] bounds concurrent requests with a bulkhead and answers
//     503 with Retry-After when it is full.
//   - [RateLimiter] limits requests per client (a ratelimit.Keyed) and
//     answers 429 with Retry-After.
//   - [Deadline] reads the deadline header and bounds the handler's context.
//   - [Recover] turns a handler's panic into a 500 and keeps serving. The
//     handler's ResponseWriter keeps exactly the optional interfaces of the
//     server's (http.Flusher, http.Hijacker, io.ReaderFrom, http.Pusher),
//     so streaming, sendfile and websocket upgrades work behind it.
//
// # Health and shutdown
//
// [Health] serves /livez, /readyz and /startupz with JSON detail, running
// checks concurrently with timeouts and caching their results. [Serve] runs
// an http.Server until its context ends, then fails readiness, waits for
// load balancers to notice, shuts the server down gracefully and closes
// resources in reverse order; [ListenAndServe] adds SIGTERM and SIGINT
// handling.
package fuseboxhttp
