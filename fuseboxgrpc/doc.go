// Package fuseboxgrpc puts Fusebox's policies on gRPC calls: client
// interceptors that run each RPC through a fusebox.Pipeline (a circuit
// breaker by default) judged by status code, and server interceptors that
// shed load with a concurrency limit and a rate limit and keep a panicking
// handler from taking the server down.
//
// It lives in a module of its own, github.com/fusebox-go/fusebox/fuseboxgrpc,
// so that the core module does not depend on gRPC.
//
// # Client
//
//	conn, err := grpc.NewClient(target,
//		grpc.WithChainUnaryInterceptor(fuseboxgrpc.UnaryClientInterceptor(opts...)),
//		grpc.WithChainStreamInterceptor(fuseboxgrpc.StreamClientInterceptor(opts...)),
//	)
//
// Each RPC runs through the pipeline of its key: its full method
// ("/pkg.Service/Method"), or its service ("pkg.Service") with
// WithServiceKeys. WithPipeline makes the pipeline of a key, once, on the
// key's first RPC; by default it is one breaker.Breaker with breaker's
// default configuration.
//
// An RPC's result is judged by its status code (DefaultCodeClassifier, or
// WithClassifier): Unavailable, DeadlineExceeded, ResourceExhausted,
// Internal, Unknown, DataLoss and Aborted are failures of the server; the
// other codes are successes, since the server answered (a NotFound is the
// server doing its job); and an RPC whose caller canceled it or whose
// caller's deadline passed is Ignored, as is a Canceled attempt, and so are
// gRPC's errors of the caller's own making, which say nothing about the
// server's health: a request that cannot be encoded, and a message over a
// size limit (MaxCallSendMsgSize, MaxCallRecvMsgSize, the server's
// MaxRecvMsgSize; see CodeClassifier). The policies of the pipeline are
// shown the judgement, not the raw error: an attempt
// judged a success reaches them as nil (the caller still gets its error,
// unchanged), an ignored one as an error matching context.Canceled. So the
// policies' default classifiers agree with the interceptor: leave
// breaker.Config.Classifier nil. For a retry policy, use RetryableCode as
// retry.Config.Retryable.
//
// A rejection by a policy reaches the caller as a *StatusError: a gRPC
// status error, codes.Unavailable (DeadlineExceeded for a timeout policy),
// whose message names the rejection and which still matches the policy's
// sentinel error:
//
//	if errors.Is(err, fusebox.ErrOpen) { /* the breaker is open */ }
//	status.Code(err) // codes.Unavailable
//
// Streams are admitted once, when established, and judged once, by how they
// end, never message by message; a breaker's permit is held for the
// stream's life (see StreamClientInterceptor for exactly what counts).
//
// # Server
//
//	srv := grpc.NewServer(
//		grpc.ChainUnaryInterceptor(fuseboxgrpc.UnaryServerInterceptor(opts...)),
//		grpc.ChainStreamInterceptor(fuseboxgrpc.StreamServerInterceptor(opts...)),
//	)
//
// The server interceptors recover from panics in handlers (codes.Internal),
// apply a per-key rate limit (WithRateLimit: a ratelimit.Keyed by client
// address, PeerKey, or by a metadata value, MetadataKey) and a concurrency
// limit (WithConcurrencyLimit: bulkheads chosen by method), rejecting with
// codes.ResourceExhausted. Deadline propagation is gRPC's own: the client's
// deadline travels with the RPC and the handler's context carries it.
package fuseboxgrpc
