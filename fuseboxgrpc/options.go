package fuseboxgrpc

import (
	"strings"

	"github.com/fusebox-go/fusebox"
	"github.com/fusebox-go/fusebox/breaker"
)

// Option configures the client interceptors, UnaryClientInterceptor and
// StreamClientInterceptor.
type Option interface {
	apply(*clientConfig)
}

type optionFunc func(*clientConfig)

func (f optionFunc) apply(c *clientConfig) { f(c) }

// PipelineFunc makes the pipeline that guards the RPCs of one key (see
// WithPipeline).
type PipelineFunc func(key string) (*fusebox.Pipeline, error)

// clientConfig is what the Options set.
type clientConfig struct {
	newPipeline  PipelineFunc
	serviceKeys  bool
	codeClassify CodeClassifier
}

// defaultClientConfig holds every default of the client interceptors.
func defaultClientConfig() clientConfig {
	return clientConfig{
		newPipeline:  DefaultPipeline,
		codeClassify: DefaultCodeClassifier,
	}
}

func newClientConfig(opts []Option) clientConfig {
	c := defaultClientConfig()
	for _, o := range opts {
		if o != nil {
			o.apply(&c)
		}
	}
	return c
}

// WithPipeline sets the function that makes the pipeline of each key: one
// key per method by default, per service with WithServiceKeys. An
// interceptor calls it once per key, on the key's first RPC, and keeps the
// pipeline for every later RPC of the key; concurrent first RPCs of a key
// wait for one call to finish. It runs without any lock of the
// interceptor's held, but must not itself make an RPC through the
// interceptor with the same key.
//
// A nil pipeline with a nil error leaves the key's RPCs unguarded: they go
// straight to the server. An error is returned to the RPC that asked, as a
// *StatusError with codes.Internal, and is not kept: the key's next RPC
// calls newPipeline again.
//
// A nil newPipeline means DefaultPipeline.
func WithPipeline(newPipeline PipelineFunc) Option {
	return optionFunc(func(c *clientConfig) {
		if newPipeline == nil {
			newPipeline = DefaultPipeline
		}
		c.newPipeline = newPipeline
	})
}

// WithServiceKeys keys pipelines by service ("pkg.Service") instead of by
// method ("/pkg.Service/Method"), so that every method of a service shares
// one breaker.
func WithServiceKeys() Option {
	return optionFunc(func(c *clientConfig) { c.serviceKeys = true })
}

// WithClassifier sets how a failed RPC's status code is judged. A nil
// classify means DefaultCodeClassifier.
func WithClassifier(classify CodeClassifier) Option {
	return optionFunc(func(c *clientConfig) {
		if classify == nil {
			classify = DefaultCodeClassifier
		}
		c.codeClassify = classify
	})
}

// DefaultPipeline is the PipelineFunc used when none is given: a pipeline of
// one circuit breaker with breaker's default configuration, named after the
// key.
func DefaultPipeline(key string) (*fusebox.Pipeline, error) {
	b, err := breaker.New(breaker.Config{Name: key})
	if err != nil {
		return nil, err
	}
	return fusebox.New(b)
}

// key returns the pipeline key of a full method name "/pkg.Service/Method":
// the method itself, or with WithServiceKeys "pkg.Service". A name of any
// other form is its own key.
func (c *clientConfig) key(method string) string {
	if !c.serviceKeys {
		return method
	}
	s := strings.TrimPrefix(method, "/")
	if i := strings.LastIndexByte(s, '/'); i > 0 {
		return s[:i]
	}
	return method
}
