package fuseboxgrpc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime/debug"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"

	"github.com/fusebox-go/fusebox"
	"github.com/fusebox-go/fusebox/bulkhead"
	"github.com/fusebox-go/fusebox/ratelimit"
)

// ServerOption configures the server interceptors, UnaryServerInterceptor
// and StreamServerInterceptor.
type ServerOption interface {
	apply(*serverConfig)
}

type serverOptionFunc func(*serverConfig)

func (f serverOptionFunc) apply(c *serverConfig) { f(c) }

// KeyFunc picks the key a server's rate limiter counts an RPC under. It
// gets the RPC's context, which carries its peer (peer.FromContext), its
// metadata (metadata.FromIncomingContext) and its method (grpc.Method).
type KeyFunc func(ctx context.Context) string

// PanicHandler is told of a panic the server interceptors recovered from:
// the RPC's context and full method, the value the handler panicked with,
// and the handler's stack.
type PanicHandler func(ctx context.Context, fullMethod string, v any, stack []byte)

type serverConfig struct {
	limit    func(fullMethod string) *bulkhead.Bulkhead
	fullCode codes.Code
	limiter  *ratelimit.Keyed
	key      KeyFunc
	onPanic  PanicHandler
}

// defaultServerConfig holds every default of the server interceptors.
func defaultServerConfig() serverConfig {
	return serverConfig{
		fullCode: codes.ResourceExhausted,
		key:      PeerKey,
		onPanic:  logPanic,
	}
}

// WithConcurrencyLimit bounds how many RPCs run at once. limit is called on
// every RPC, with its full method name ("/pkg.Service/Method"), and returns
// the bulkhead that bounds it, or nil for none: return one bulkhead for a
// server-wide limit, or one per method (from a map built beforehand) so that
// a slow method cannot take the slots of the others. It must be fast and
// safe for concurrent use.
//
// A unary RPC holds its slot while its handler runs; a streaming RPC for
// the stream's whole life. When the bulkhead rejects an RPC, the client gets
// codes.ResourceExhausted (or Unavailable, with WithUnavailableWhenFull) and
// the handler does not run; an RPC whose context ends while it waits in the
// bulkhead's queue gets Canceled or DeadlineExceeded. A nil limit means no
// limit.
func WithConcurrencyLimit(limit func(fullMethod string) *bulkhead.Bulkhead) ServerOption {
	return serverOptionFunc(func(c *serverConfig) { c.limit = limit })
}

// WithUnavailableWhenFull makes an RPC that a bulkhead rejects end with
// codes.Unavailable instead of ResourceExhausted: the code to use when
// clients should take the rejection as "try another replica" (gRPC clients
// with a retry policy may retry Unavailable transparently) rather than "you
// are sending too much".
func WithUnavailableWhenFull() ServerOption {
	return serverOptionFunc(func(c *serverConfig) { c.fullCode = codes.Unavailable })
}

// WithRateLimit limits how often RPCs may arrive, per key: key picks an
// RPC's key (nil means PeerKey, the client's address) and the Keyed limiter
// gives each key its own token bucket, keeping at most MaxKeys keys of at
// most ratelimit.MaxKeyLen bytes each (a longer key is kept as a digest). An RPC refused a token ends with
// codes.ResourceExhausted, before it takes a concurrency slot and without
// running the handler. A streaming RPC takes one token when it starts, none
// per message. A nil limiter means no rate limit.
func WithRateLimit(limiter *ratelimit.Keyed, key KeyFunc) ServerOption {
	return serverOptionFunc(func(c *serverConfig) {
		if key == nil {
			key = PeerKey
		}
		c.limiter, c.key = limiter, key
	})
}

// WithPanicHandler sets what is told of a recovered panic. A nil handler
// means the default, which logs the panic and its stack with slog's default
// logger at level Error.
func WithPanicHandler(h PanicHandler) ServerOption {
	return serverOptionFunc(func(c *serverConfig) {
		if h == nil {
			h = logPanic
		}
		c.onPanic = h
	})
}

// PeerKey is the KeyFunc that keys an RPC by its client's address: the IP
// address, without port, of a TCP peer (so that a client's connections share
// one key), the whole address of any other peer, and "" when the context
// names no peer.
func PeerKey(ctx context.Context) string {
	p, ok := peer.FromContext(ctx)
	if !ok || p.Addr == nil {
		return ""
	}
	if a, ok := p.Addr.(*net.TCPAddr); ok {
		return a.IP.String()
	}
	return p.Addr.String()
}

// MetadataKey returns a KeyFunc that keys an RPC by the first value of the
// request metadata (header) name, a tenant or API key, say; RPCs without it
// share the key "". The value is the client's to choose, up to gRPC's limit
// on header size (16 MiB by default): the limiter keeps a key longer than
// ratelimit.MaxKeyLen bytes as a fixed-size digest, so long values cost no
// more memory than short ones.
func MetadataKey(name string) KeyFunc {
	return func(ctx context.Context) string {
		if v := metadata.ValueFromIncomingContext(ctx, name); len(v) > 0 {
			return v[0]
		}
		return ""
	}
}

// errPanic is what a client is told of a panic in a handler; the panic's
// value goes to the PanicHandler only, never over the wire.
var errPanic = errors.New("fuseboxgrpc: the server's handler panicked")

// UnaryServerInterceptor returns an interceptor that protects a server's
// unary handlers. For each RPC, in this order:
//
//  1. it recovers from a panic in what follows: the client gets
//     codes.Internal, the PanicHandler is told (see WithPanicHandler), every
//     slot is released, and the server goes on serving;
//  2. a rate limiter, when one is set, takes a token for the RPC's key, or
//     rejects it with codes.ResourceExhausted (see WithRateLimit);
//  3. a bulkhead, when one is set for the method, takes a slot for the RPC,
//     or rejects it with codes.ResourceExhausted (see WithConcurrencyLimit);
//  4. the handler runs.
//
// Deadlines need nothing of the interceptor: gRPC sends the client's
// deadline with the RPC (the grpc-timeout header) and the handler's context
// carries it, so a handler that passes its context to the RPCs it makes
// passes the remaining time on. A bulkhead's queue wait ends with it.
func UnaryServerInterceptor(opts ...ServerOption) grpc.UnaryServerInterceptor {
	c := newServerConfig(opts)
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
		defer func() {
			if v := recover(); v != nil {
				c.onPanic(ctx, info.FullMethod, v, debug.Stack())
				resp, err = nil, &StatusError{Code: codes.Internal, Err: errPanic}
			}
		}()
		if err := c.allow(ctx); err != nil {
			return nil, err
		}
		if b := c.bulkhead(info.FullMethod); b != nil {
			p, err := b.Acquire(ctx)
			if err != nil {
				return nil, c.shed(err)
			}
			defer p.Release()
		}
		return handler(ctx, req)
	}
}

// StreamServerInterceptor returns an interceptor that protects a server's
// streaming handlers as UnaryServerInterceptor protects unary ones. A stream
// is admitted once, when it starts: it takes one rate-limit token and holds
// one bulkhead slot until its handler returns.
func StreamServerInterceptor(opts ...ServerOption) grpc.StreamServerInterceptor {
	c := newServerConfig(opts)
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) (err error) {
		ctx := ss.Context()
		defer func() {
			if v := recover(); v != nil {
				c.onPanic(ctx, info.FullMethod, v, debug.Stack())
				err = &StatusError{Code: codes.Internal, Err: errPanic}
			}
		}()
		if err := c.allow(ctx); err != nil {
			return err
		}
		if b := c.bulkhead(info.FullMethod); b != nil {
			p, err := b.Acquire(ctx)
			if err != nil {
				return c.shed(err)
			}
			defer p.Release()
		}
		return handler(srv, ss)
	}
}

func newServerConfig(opts []ServerOption) *serverConfig {
	c := defaultServerConfig()
	for _, o := range opts {
		if o != nil {
			o.apply(&c)
		}
	}
	return &c
}

// allow applies the rate limit to an RPC.
func (c *serverConfig) allow(ctx context.Context) error {
	if c.limiter != nil && !c.limiter.Allow(c.key(ctx)) {
		return errRateLimited
	}
	return nil
}

// bulkhead returns the bulkhead that bounds method, or nil.
func (c *serverConfig) bulkhead(method string) *bulkhead.Bulkhead {
	if c.limit == nil {
		return nil
	}
	return c.limit(method)
}

// shed turns a bulkhead's refusal into the RPC's error: the configured code
// for a full bulkhead, Canceled or DeadlineExceeded for a context that
// ended in the queue.
func (c *serverConfig) shed(err error) error {
	if errors.Is(err, fusebox.ErrBulkheadFull) {
		if c.fullCode == codes.Unavailable {
			return errFullUnavailable
		}
		return errFull
	}
	return toStatusError(err)
}

// The server's rejections, preallocated.
var (
	errRateLimited     = &StatusError{Code: codes.ResourceExhausted, Err: fusebox.ErrRateLimited}
	errFull            = &StatusError{Code: codes.ResourceExhausted, Err: fusebox.ErrBulkheadFull}
	errFullUnavailable = &StatusError{Code: codes.Unavailable, Err: fusebox.ErrBulkheadFull}
)

func logPanic(ctx context.Context, method string, v any, stack []byte) {
	slog.ErrorContext(ctx, "fuseboxgrpc: recovered from a panic in a handler",
		"method", method, "panic", fmt.Sprint(v), "stack", string(stack))
}
