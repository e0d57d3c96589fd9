package fuseboxgrpc

import (
	"context"
	"errors"
	"io"
	"sync"
	"sync/atomic"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/fusebox-go/fusebox"
	"github.com/fusebox-go/fusebox/breaker"
)

// StreamClientInterceptor returns an interceptor that guards every streaming
// RPC as one call: it is admitted once, when it is established, and judged
// once, by how it ends. Messages are never judged one by one.
//
// Establishment runs through the pipeline of the stream's key (see
// WithPipeline): the policies may reject it (the caller gets a *StatusError,
// codes.Unavailable, and nothing is sent to the server), retry it, bound it
// with a timeout. Every policy but the circuit breakers is done with the
// stream once it is established: a bulkhead's slot, for one, is held only
// while the stream is being set up.
//
// A *breaker.Breaker among the pipeline's policies is handled apart: it
// admits the stream (Allow) where it stands in the pipeline, and its permit
// is held for the stream's whole life and done once, with the stream's
// outcome:
//
//   - the stream ends well, Success: RecvMsg returns io.EOF, or, for an RPC
//     whose server sends one message (client-streaming), RecvMsg returns that
//     message without error;
//   - RecvMsg returns any other error: the stream's final status, judged as
//     a unary RPC's (see WithClassifier), Ignored when the caller's context
//     has ended or a message was over a size limit (an answer over the
//     caller's MaxCallRecvMsgSize, a request over the server's
//     MaxRecvMsgSize; see CodeClassifier);
//   - SendMsg returns an error other than io.EOF, which gRPC reports only for
//     errors of the client's own making (a message it cannot encode):
//     Ignored;
//   - the caller's context ends before any of that: Ignored;
//   - establishment fails: the error judged as a unary RPC's; the stream is
//     rejected by a policy further in: Ignored.
//
// A stream that the caller neither reads to its end nor cancels never
// reports, as gRPC never frees it either; a half-open breaker frees such a
// probe's slot after breaker.Config.HalfOpenMaxWait. Only breakers at the top
// level of the pipeline are handled so: a breaker hidden inside a policy of
// another kind sees the establishment alone. A breaker times the whole
// stream, so a SlowCallRate condition would judge long streams slow: give
// streaming methods a key (WithPipeline) whose breaker does not use it.
func StreamClientInterceptor(opts ...Option) grpc.StreamClientInterceptor {
	c := newClient(opts)
	return c.newStream
}

func (c *client) newStream(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	e, err := c.lookup(ctx, c.key(method))
	if err != nil {
		return nil, err
	}
	if e.p == nil {
		return streamer(ctx, desc, cc, method, opts...)
	}
	st := &streamCall{ctx: ctx, classify: c.codeClassify}
	err = e.stream.Run(context.WithValue(ctx, streamCallKey{}, st), func(actx context.Context) error {
		return st.attempt(actx, desc, cc, method, streamer, opts)
	})
	return st.result(err, desc)
}

// streamCallKey is the context key under which a stream's establishment
// carries its *streamCall to the streamBreakers of the pipeline.
type streamCallKey struct{}

// errLost is the error of an establishment attempt that made a stream after
// another attempt (a hedge's) already had: its stream is canceled.
var errLost = status.Error(codes.Canceled, "fuseboxgrpc: another attempt established the stream")

// errNoStream is returned when the pipeline ended without error and without
// a stream, as a fallback policy would make it: a fallback cannot answer a
// stream.
var errNoStream = errors.New("fuseboxgrpc: the pipeline established no stream (a fallback cannot answer a stream)")

// streamCall is one streaming RPC, from its establishment to its end.
type streamCall struct {
	ctx      context.Context // the caller's
	classify CodeClassifier

	// Until the pipeline returns, attempts (concurrent, under a hedge) and
	// streamBreakers write these under mu; afterwards only result and end
	// read them.
	mu      sync.Mutex
	won     bool               // an attempt succeeded, with a stream or okErr
	cs      grpc.ClientStream  // the established stream
	cancel  context.CancelFunc // cancels cs's context
	okErr   error              // the winning attempt's error judged Success
	lastErr error              // the latest failed attempt's error
	permits []heldPermit       // breaker permits held for the stream's life

	ended atomic.Bool
	// stop unregisters the watch of ctx; set before the stream is handed
	// to the caller, read only by end calls made through the stream.
	stop func() bool
}

type heldPermit struct {
	b *breaker.Breaker
	p *breaker.Permit
}

// attempt makes one establishment attempt. The stream gets a context of its
// own, derived from the caller's and not from actx: the pipeline's policies
// end actx when they return, and the stream must outlive them. While the
// attempt runs, actx ending (a timeout, a hedge calling the attempt off)
// cancels it.
func (st *streamCall) attempt(actx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts []grpc.CallOption) error {
	sctx, cancel := context.WithCancel(st.ctx)
	stop := context.AfterFunc(actx, cancel)
	cs, err := streamer(sctx, desc, cc, method, opts...)
	if !stop() && err == nil {
		// actx ended as the stream was made, and canceled it.
		err = status.FromContextError(actx.Err()).Err()
	}
	if err != nil {
		cancel()
		perr := present(st.ctx, err, judge(st.ctx, err, st.classify))
		st.mu.Lock()
		defer st.mu.Unlock()
		st.lastErr = err
		if perr == nil {
			if st.won {
				return &judgedError{err: err}
			}
			st.won, st.okErr = true, err
		}
		return perr
	}
	st.mu.Lock()
	if st.won {
		st.mu.Unlock()
		cancel()
		return &judgedError{err: errLost}
	}
	st.won, st.cs, st.cancel = true, cs, cancel
	st.mu.Unlock()
	return nil
}

// hold keeps a breaker's permit until the stream ends.
func (st *streamCall) hold(b *breaker.Breaker, p *breaker.Permit) {
	st.mu.Lock()
	st.permits = append(st.permits, heldPermit{b: b, p: p})
	st.mu.Unlock()
}

// release does every held permit with outcome o.
func (st *streamCall) release(o fusebox.Outcome) {
	for _, h := range st.permits {
		h.p.Done(o)
	}
}

// result turns the pipeline's result into the interceptor's.
func (st *streamCall) result(err error, desc *grpc.StreamDesc) (grpc.ClientStream, error) {
	st.mu.Lock()
	cs, okErr, lastErr := st.cs, st.okErr, st.lastErr
	st.mu.Unlock()
	switch {
	case err != nil:
		if cs != nil {
			// A policy outside the attempts failed the call after the
			// stream was made: the stream is not the caller's.
			st.cancel()
		}
		st.release(fusebox.Ignored)
		return nil, toStatusError(err)
	case cs == nil && okErr != nil:
		st.releaseErr(nil)
		return nil, okErr
	case cs == nil:
		st.release(fusebox.Ignored)
		if lastErr != nil {
			return nil, toStatusError(lastErr)
		}
		return nil, &StatusError{Code: codes.Internal, Err: errNoStream}
	}
	w := &clientStream{ClientStream: cs, st: st, serverStreams: desc.ServerStreams}
	st.stop = context.AfterFunc(st.ctx, func() { st.end(st.ctx.Err(), true, true) })
	return w, nil
}

// releaseErr does every held permit with what its breaker makes of perr, the
// error the pipeline's policies would have been given.
func (st *streamCall) releaseErr(perr error) {
	for _, h := range st.permits {
		h.p.Done(h.b.Classify(st.ctx, perr))
	}
}

// end reports the stream's end, once: err is its final error (nil or io.EOF
// for a stream that ended well), judged as a unary RPC's unless ignore
// says the stream's end is Ignored. fromWatch says end is called by the
// watch of the caller's context, which must not be stopped.
func (st *streamCall) end(err error, ignore, fromWatch bool) {
	if !st.ended.CompareAndSwap(false, true) {
		return
	}
	if !fromWatch {
		st.stop()
	}
	if err == io.EOF {
		err = nil
	}
	o := fusebox.Ignored
	if !ignore {
		o = judge(st.ctx, err, st.classify)
	}
	st.releaseErr(present(st.ctx, err, o))
	st.cancel()
}

// clientStream is the stream the caller gets: gRPC's, watched for its end.
type clientStream struct {
	grpc.ClientStream
	st            *streamCall
	serverStreams bool
}

// RecvMsg receives a message; the stream's end is reported when it returns
// an error (io.EOF for a stream that ended well), or, for an RPC whose
// server sends a single message, when that message arrives.
func (s *clientStream) RecvMsg(m any) error {
	err := s.ClientStream.RecvMsg(m)
	if err != nil || !s.serverStreams {
		s.st.end(err, false, false)
	}
	return err
}

// SendMsg sends a message; an error other than io.EOF is the client's own
// doing and ends the stream as Ignored.
func (s *clientStream) SendMsg(m any) error {
	err := s.ClientStream.SendMsg(m)
	if err != nil && err != io.EOF {
		s.st.end(err, true, false)
	}
	return err
}

// streamBreaker stands for a breaker in a stream's pipeline: it admits the
// stream where the breaker stands, and hands the permit of an established
// stream to its streamCall, to be done when the stream ends.
type streamBreaker struct{ b *breaker.Breaker }

func (s *streamBreaker) Run(ctx context.Context, next fusebox.Next) error {
	st, ok := ctx.Value(streamCallKey{}).(*streamCall)
	if !ok {
		return s.b.Run(ctx, next)
	}
	p := new(breaker.Permit)
	var err error
	if *p, err = s.b.Allow(); err != nil {
		return err
	}
	finished := false
	defer func() {
		if !finished {
			p.Done(fusebox.Failure) // a panic, which goes on
		}
	}()
	err = next.Run(ctx)
	finished = true
	if err != nil {
		p.Done(s.b.Classify(ctx, err))
		return err
	}
	st.hold(s.b, p)
	return nil
}
