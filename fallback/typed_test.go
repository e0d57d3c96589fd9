package fallback_test

import (
	"context"
	"errors"
	"fmt"
	"go/ast"
	"go/build"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fusebox-go/fusebox"
	"github.com/fusebox-go/fusebox/fallback"
)

type product struct {
	ID   string
	Name string
}

func TestNewPipelineTyped(t *testing.T) {
	ctx := context.Background()
	unavailable := product{Name: "unavailable"}
	var inner counter
	pl, err := fallback.NewPipeline(fallback.Value(unavailable), fallback.Config{Name: "products"}, countingPolicy{&inner})
	if err != nil {
		t.Fatal(err)
	}
	got, err := pl.Do(ctx, func(context.Context) (product, error) { return product{ID: "42", Name: "lamp"}, nil })
	if err != nil || got.Name != "lamp" {
		t.Fatalf("Do, healthy = %+v, %v; want the lamp", got, err)
	}
	a, err := pl.DoAnswer(ctx, func(context.Context) (product, error) { return product{}, errDep })
	if err != nil || a.Value != unavailable || !a.Degraded || !errors.Is(a.Cause, errDep) {
		t.Fatalf("DoAnswer, down = %+v, %v; want the fallback's product, degraded by errDep", a, err)
	}
	if inner.n != 2 {
		t.Fatalf("inner policy ran %d times, want 2", inner.n)
	}
	// The plain pipeline is the fallback, then the inner policies.
	ps := pl.Pipeline().Policies()
	if len(ps) != 2 || ps[0] != fusebox.Policy(pl.Policy()) {
		t.Fatalf("Pipeline().Policies() = %v, want the fallback policy then the inner one", ps)
	}
	if s := pl.Policy().Snapshot(); s.Calls != 2 || s.Fallbacks != 1 {
		t.Fatalf("Snapshot = %+v, want 2 calls, 1 fallback", s)
	}
}

func TestNewPipelineErrors(t *testing.T) {
	if _, err := fallback.NewPipeline[int](nil, fallback.Config{}); err == nil {
		t.Error("NewPipeline(nil) returned no error")
	}
	_, err := fallback.NewPipeline(fallback.Value(1), fallback.Config{Func: fallback.Static(2)})
	if err == nil || !strings.Contains(err.Error(), "Func") {
		t.Errorf("NewPipeline with Config.Func set = %v, want an error naming Func", err)
	}
	_, err = fallback.NewPipeline(fallback.Value(1), fallback.Config{}, countingPolicy{&counter{}}, nil)
	if err == nil || !strings.Contains(err.Error(), "policies[1]") {
		t.Errorf("NewPipeline with a nil inner policy = %v, want an error naming inner policies[1]", err)
	}
}

func TestChainOf(t *testing.T) {
	ctx := context.Background()
	errReplica := errors.New("replica down")
	replica := func(context.Context, error) (int, error) { return 0, errReplica }
	panics := func(context.Context, error) (int, error) { panic("boom") }

	v, err := fallback.ChainOf(replica, nil, panics, fallback.Value(7))(ctx, errDep)
	if err != nil || v != 7 {
		t.Fatalf("ChainOf = %d, %v; want 7 from the last entry", v, err)
	}
	v, err = fallback.ChainOf(replica, panics)(ctx, errDep)
	var pe *fallback.PanicError
	if v != 0 || !errors.Is(err, errReplica) || !errors.As(err, &pe) {
		t.Fatalf("ChainOf, all failing = %d, %v; want 0 and both errors", v, err)
	}
	if _, err := fallback.ChainOf[int]()(ctx, errDep); err != errDep {
		t.Fatalf("empty ChainOf = %v, want the call's error", err)
	}
}

func TestFuncOfFunc(t *testing.T) {
	var nilFn fallback.FuncOf[int]
	if nilFn.Func() != nil {
		t.Error("a nil FuncOf's Func is not nil")
	}
	fb, err := fallback.New(fallback.Config{Func: fallback.Value("cached").Func()})
	if err != nil {
		t.Fatal(err)
	}
	pl, _ := fusebox.New(fb)
	v, err := fusebox.Do(context.Background(), pl, func(context.Context) (string, error) { return "", errDep })
	if err != nil || v != "cached" {
		t.Fatalf("Do = %q, %v; want cached", v, err)
	}
	// A failing FuncOf answers no value through Func: not its zero value.
	failing := fallback.FuncOf[int](func(context.Context, error) (int, error) { return 5, errDep })
	if v, err := failing.Func()(context.Background(), nil); v != nil || err != errDep {
		t.Fatalf("Func of a failing FuncOf = %v, %v; want nil, errDep", v, err)
	}
}

// counter counts; tests use it from one goroutine.
type counter struct{ n int }

// countingPolicy counts its runs.
type countingPolicy struct{ c *counter }

func (p countingPolicy) Run(ctx context.Context, next fusebox.Next) error {
	p.c.n++
	return next.Run(ctx)
}

// A typed fallback of the wrong type is a compile error, not a failure
// during an outage: the snippet is type-checked against the package, once
// as written (it must compile) and once with the fallback's type changed
// (it must not).
func TestNewPipelineMismatchIsCompileError(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the package's export data")
	}
	const src = `package p

import (
	"context"

	"github.com/fusebox-go/fusebox/fallback"
)

type Product struct{ Name string }

func f(ctx context.Context) {
	products, _ := fallback.NewPipeline(fallback.Value(FALLBACK), fallback.Config{})
	_, _ = products.Do(ctx, func(context.Context) (Product, error) { return Product{}, nil })
}
`
	fset := token.NewFileSet()
	imp := exportDataImporter(t, fset, "github.com/fusebox-go/fusebox/fallback")
	check := func(fallbackValue string) error {
		f, err := parser.ParseFile(fset, "p.go", strings.Replace(src, "FALLBACK", fallbackValue, 1), 0)
		if err != nil {
			t.Fatal(err)
		}
		_, err = (&types.Config{Importer: imp}).Check("p", fset, []*ast.File{f}, nil)
		return err
	}
	if err := check(`Product{Name: "unavailable"}`); err != nil {
		t.Fatalf("a fallback of the call's type does not compile: %v", err)
	}
	err := check(`"unavailable"`)
	if err == nil {
		t.Fatal("a string fallback for a Product call compiles")
	}
	if !strings.Contains(err.Error(), "Product") {
		t.Fatalf("the compile error %q does not name the call's type", err)
	}
	t.Logf("compile error, as wanted: %v", err)
}

// exportDataImporter returns an importer of pkg and its dependencies that
// reads their export data, as the compiler would: go list -export builds
// it (or finds it in the build cache), which is much faster than
// type-checking them all from source.
func exportDataImporter(t *testing.T, fset *token.FileSet, pkg string) types.Importer {
	t.Helper()
	goCmd, err := exec.LookPath("go")
	if err != nil {
		goCmd = filepath.Join(build.Default.GOROOT, "bin", "go")
	}
	out, err := exec.Command(goCmd, "list", "-export", "-deps", "-f", "{{.ImportPath}}\t{{.Export}}", pkg).Output()
	if err != nil {
		t.Skipf("go list -export: %v", err)
	}
	exports := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if path, file, ok := strings.Cut(line, "\t"); ok && file != "" {
			exports[path] = file
		}
	}
	return importer.ForCompiler(fset, "gc", func(path string) (io.ReadCloser, error) {
		file, ok := exports[path]
		if !ok {
			return nil, fmt.Errorf("no export data for %q", path)
		}
		return os.Open(file)
	})
}
