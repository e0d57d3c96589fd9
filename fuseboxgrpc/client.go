package fuseboxgrpc

import (
	"context"
	"fmt"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	"github.com/fusebox-go/fusebox"
	"github.com/fusebox-go/fusebox/breaker"
	"github.com/fusebox-go/fusebox/hedge"
)

// UnaryClientInterceptor returns an interceptor that runs every unary RPC
// through the pipeline of its key (see WithPipeline, WithServiceKeys) and
// judges its result by status code (see WithClassifier, DefaultCodeClassifier).
// Errors of the caller's own making are Ignored, as the stream interceptor
// ignores them (see CodeClassifier): a request that does not encode (a
// proto3 string that is not UTF-8), or that is over the caller's
// MaxCallSendMsgSize, never reaches the server and counts against no one.
// An encoding error is taken to be the request's when the request, encoded
// again, fails too (or is no proto.Message): a server that cannot encode
// its answer sends the same words, and that is its failure.
//
// The caller gets the server's error unchanged, also when it was not judged
// a failure (a NotFound is returned as it came), and a rejection by a policy
// as a *StatusError: codes.Unavailable, matching the policy's sentinel error
// (fusebox.ErrOpen, ErrBulkheadFull, ErrRateLimited ...) with errors.Is. The
// RPC did not reach the server.
//
// A retry policy in the pipeline reuses the caller's reply message for each
// attempt, one after the other; a hedge.Policy runs attempts concurrently, so
// each then gets a fresh reply message (the reply must be a proto.Message)
// and the winner's is merged into the caller's. A fallback policy may answer
// with a value of the reply's own message type, which is merged into the
// reply.
//
// Each interceptor keeps its own pipelines: give one to each ClientConn (each
// backend), or share it among ClientConns that should share breakers.
func UnaryClientInterceptor(opts ...Option) grpc.UnaryClientInterceptor {
	c := newClient(opts)
	return c.unary
}

// client is the state shared by an interceptor's RPCs.
type client struct {
	clientConfig
	entries sync.Map // key → *entry
}

func newClient(opts []Option) *client {
	return &client{clientConfig: newClientConfig(opts)}
}

// entry is the pipeline of one key, built once.
type entry struct {
	ready chan struct{} // closed when the fields below are set
	err   error         // the build failed; the entry is no longer in the map
	// p guards unary RPCs; nil leaves the key unguarded.
	p *fusebox.Pipeline
	// stream is p with each breaker swapped for a streamBreaker, which holds
	// the breaker's permit for the stream's life.
	stream *fusebox.Pipeline
	// hedged: p runs attempts concurrently, which then need their own reply
	// messages.
	hedged bool
}

// lookup returns the entry of key, building it on the key's first RPC. RPCs
// that find it being built wait for it, or for their context to end.
func (c *client) lookup(ctx context.Context, key string) (*entry, error) {
	v, ok := c.entries.Load(key)
	if !ok {
		e := &entry{ready: make(chan struct{})}
		if v, ok = c.entries.LoadOrStore(key, e); !ok {
			c.build(key, e)
			if e.err != nil {
				return nil, e.err
			}
			return e, nil
		}
	}
	e := v.(*entry)
	select {
	case <-e.ready:
	default:
		select {
		case <-e.ready:
		case <-ctx.Done():
			return nil, toStatusError(ctx.Err())
		}
	}
	if e.err != nil {
		return nil, e.err
	}
	return e, nil
}

// build calls the PipelineFunc for key and fills e. A failed build (an
// error, or a panic, which goes on) leaves e.err set and removes e from the
// map, so that the key's next RPC tries again; the RPCs waiting for e get
// the error.
func (c *client) build(key string, e *entry) {
	e.err = &StatusError{Code: codes.Internal, Err: fmt.Errorf("fuseboxgrpc: the pipeline function panicked for key %q", key)}
	defer func() {
		if e.err != nil {
			c.entries.CompareAndDelete(key, e)
		}
		close(e.ready)
	}()
	p, err := c.newPipeline(key)
	if err != nil {
		e.err = &StatusError{Code: codes.Internal, Err: fmt.Errorf("fuseboxgrpc: pipeline for key %q: %w", key, err)}
		return
	}
	e.err = nil
	if p == nil {
		return
	}
	e.p, e.stream = p, p
	policies := p.Policies()
	swapped := false
	for i, pol := range policies {
		switch pol := pol.(type) {
		case *breaker.Breaker:
			policies[i] = &streamBreaker{b: pol}
			swapped = true
		case *hedge.Policy:
			e.hedged = true
		}
	}
	if swapped {
		// Swapping non-nil policies for non-nil policies cannot fail.
		e.stream, _ = fusebox.New(policies...)
	}
}

// attemptResult is the value of an attempt the pipeline took for a success.
type attemptResult struct {
	// reply is the attempt's own reply message (hedged pipelines); nil means
	// the caller's reply.
	reply proto.Message
	// err is the attempt's status error when the classifier judged it a
	// Success (a NotFound, say): the RPC's result for the caller.
	err error
}

// plainSuccess is the value of an attempt that succeeded into the caller's
// own reply: shared, so that the common case allocates no result.
var plainSuccess = &attemptResult{}

func (c *client) unary(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	e, err := c.lookup(ctx, c.key(method))
	if err != nil {
		return err
	}
	if e.p == nil {
		return invoker(ctx, method, req, reply, cc, opts...)
	}
	var fresh proto.Message // set when each attempt needs its own reply
	if e.hedged {
		m, ok := reply.(proto.Message)
		if !ok {
			return &StatusError{Code: codes.Internal, Err: fmt.Errorf("fuseboxgrpc: a hedged pipeline needs a proto.Message reply, not %T", reply)}
		}
		fresh = m
	}
	v, err := fusebox.Do(ctx, e.p, func(actx context.Context) (any, error) {
		r := reply
		var own proto.Message
		if fresh != nil {
			own = fresh.ProtoReflect().New().Interface()
			r = own
		}
		err := invoker(actx, method, req, r, cc, opts...)
		o := judgeUnary(ctx, err, req, c.codeClassify)
		if perr := present(ctx, err, o); perr != nil {
			return nil, perr
		}
		if err == nil && own == nil {
			return plainSuccess, nil
		}
		return &attemptResult{reply: own, err: err}, nil
	})
	if err != nil {
		return toStatusError(err)
	}
	switch r := v.(type) {
	case *attemptResult:
		if r.err != nil {
			return r.err
		}
		if r.reply != nil {
			proto.Reset(fresh)
			proto.Merge(fresh, r.reply)
		}
		return nil
	case nil:
		// A fallback answered without a value: the reply stays as the
		// attempts left it.
		return nil
	default:
		return setReply(reply, r)
	}
}

// setReply copies a fallback's value into the caller's reply message.
func setReply(reply, v any) error {
	dst, ok1 := reply.(proto.Message)
	src, ok2 := v.(proto.Message)
	if !ok1 || !ok2 || dst.ProtoReflect().Descriptor().FullName() != src.ProtoReflect().Descriptor().FullName() {
		return &StatusError{Code: codes.Internal, Err: fmt.Errorf("fuseboxgrpc: a fallback value of type %T cannot answer an RPC whose reply is a %T", v, reply)}
	}
	proto.Reset(dst)
	proto.Merge(dst, src)
	return nil
}
