package jsonconfig_test

import (
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/fusebox-go/fusebox"
	"github.com/fusebox-go/fusebox/breaker"
	"github.com/fusebox-go/fusebox/bulkhead"
	"github.com/fusebox-go/fusebox/chaos"
	"github.com/fusebox-go/fusebox/dashboard"
	"github.com/fusebox-go/fusebox/fallback"
	"github.com/fusebox-go/fusebox/fuseboxhttp"
	"github.com/fusebox-go/fusebox/fuseboxslog"
	"github.com/fusebox-go/fusebox/hedge"
	"github.com/fusebox-go/fusebox/ratelimit"
	"github.com/fusebox-go/fusebox/registry"
	"github.com/fusebox-go/fusebox/retry"
	"github.com/fusebox-go/fusebox/timeout"
)

// configs are the module's configuration types with duration fields: each
// decodes them from strings as well as numbers.
var configs = map[string]func() any{
	"breaker.Config":                func() any { return new(breaker.Config) },
	"bulkhead.Config":               func() any { return new(bulkhead.Config) },
	"ratelimit.Config":              func() any { return new(ratelimit.Config) },
	"ratelimit.WindowConfig":        func() any { return new(ratelimit.WindowConfig) },
	"ratelimit.KeyedConfig":         func() any { return new(ratelimit.KeyedConfig) },
	"retry.Config":                  func() any { return new(retry.Config) },
	"retry.BudgetConfig":            func() any { return new(retry.BudgetConfig) },
	"hedge.Config":                  func() any { return new(hedge.Config) },
	"timeout.Config":                func() any { return new(timeout.Config) },
	"fallback.CacheConfig":          func() any { return new(fallback.CacheConfig) },
	"registry.Config":               func() any { return new(registry.Config[*fusebox.Pipeline]) },
	"dashboard.Config":              func() any { return new(dashboard.Config) },
	"fuseboxslog.Config":            func() any { return new(fuseboxslog.Config) },
	"fuseboxhttp.HealthConfig":      func() any { return new(fuseboxhttp.HealthConfig) },
	"fuseboxhttp.LoadShedderConfig": func() any { return new(fuseboxhttp.LoadShedderConfig) },
	"fuseboxhttp.RateLimiterConfig": func() any { return new(fuseboxhttp.RateLimiterConfig) },
	"fuseboxhttp.DeadlineConfig":    func() any { return new(fuseboxhttp.DeadlineConfig) },
	"chaos.LatencyFault":            func() any { return new(chaos.LatencyFault) },
	"fuseboxhttp.ShutdownConfig":    func() any { return new(fuseboxhttp.ShutdownConfig) },
}

// notYet are configuration types with duration fields that do not decode
// strings yet, each with the reason.
var notYet = map[string]string{}

// durationFields returns the JSON names and Go names of the duration
// fields of the struct v points to.
func durationFields(v any) (jsonNames, goNames []string) {
	t := reflect.TypeOf(v).Elem()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if f.Type != reflect.TypeFor[time.Duration]() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		jsonNames, goNames = append(jsonNames, name), append(goNames, f.Name)
	}
	return jsonNames, goNames
}

func TestConfigsDecodeDurationStrings(t *testing.T) {
	for name, mk := range configs {
		t.Run(name, func(t *testing.T) {
			jsonNames, goNames := durationFields(mk())
			if len(jsonNames) == 0 {
				t.Fatal("no duration field")
			}
			var strs, nums []string
			want := map[string]time.Duration{}
			for i, n := range jsonNames {
				d := time.Duration(i+1) * 1500 * time.Millisecond
				want[goNames[i]] = d
				strs = append(strs, fmt.Sprintf("%q:%q", n, d.String()))
				nums = append(nums, fmt.Sprintf("%q:%d", n, int64(d)))
			}
			check := func(form string, v any) {
				t.Helper()
				rv := reflect.ValueOf(v).Elem()
				for f, d := range want {
					if got := time.Duration(rv.FieldByName(f).Int()); got != d {
						t.Errorf("%s: %s = %v, want %v", form, f, got, d)
					}
				}
			}
			fromStrings := mk()
			if err := json.Unmarshal([]byte("{"+strings.Join(strs, ",")+"}"), fromStrings); err != nil {
				t.Fatalf("strings: %v", err)
			}
			check("strings", fromStrings)
			fromNumbers := mk()
			if err := json.Unmarshal([]byte("{"+strings.Join(nums, ",")+"}"), fromNumbers); err != nil {
				t.Fatalf("numbers: %v", err)
			}
			check("numbers", fromNumbers)

			// Marshal writes numbers, which decode back to the same JSON.
			data, err := json.Marshal(fromStrings)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(data), nums[0]) {
				t.Errorf("Marshal wrote %s, want %s in nanoseconds", data, nums[0])
			}
			back := mk()
			if err := json.Unmarshal(data, back); err != nil {
				t.Fatalf("decoding what Marshal wrote: %v", err)
			}
			again, _ := json.Marshal(back)
			if string(again) != string(data) {
				t.Errorf("round trip: %s, then %s", data, again)
			}

			// A field absent from the object keeps its value.
			kept := mk()
			reflect.ValueOf(kept).Elem().FieldByName(goNames[0]).SetInt(int64(7 * time.Second))
			if err := json.Unmarshal([]byte(`{}`), kept); err != nil {
				t.Fatal(err)
			}
			if got := time.Duration(reflect.ValueOf(kept).Elem().FieldByName(goNames[0]).Int()); got != 7*time.Second {
				t.Errorf("an absent field became %v, want it kept at 7s", got)
			}

			// An error names the type and the field.
			err = json.Unmarshal([]byte(fmt.Sprintf(`{%q:"5 seconds"}`, jsonNames[0])), mk())
			if want := name + "." + goNames[0] + `: "5 seconds" is not a duration`; err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("a bad duration: err = %v, want one containing %q", err, want)
			}
		})
	}
}

// Every configuration type of the module with a duration field (one a
// YAML tag marks as configuration; snapshots aside) is in configs, or in
// notYet with a reason: a new one cannot be forgotten.
func TestEveryConfigIsListed(t *testing.T) {
	root := filepath.Join("..", "..")
	fset := token.NewFileSet()
	var found []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path == root {
				return nil
			}
			if _, err := os.Stat(filepath.Join(path, "go.mod")); err == nil {
				return filepath.SkipDir // another module
			}
			if n := d.Name(); n == "testdata" || n == "internal" || n == "examples" || strings.HasPrefix(n, ".") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		for _, decl := range f.Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok {
				continue
			}
			for _, spec := range gd.Specs {
				ts, ok := spec.(*ast.TypeSpec)
				if !ok || !ts.Name.IsExported() || strings.HasSuffix(ts.Name.Name, "Snapshot") {
					continue // snapshots are read, not configured
				}
				st, ok := ts.Type.(*ast.StructType)
				if !ok {
					continue
				}
				for _, field := range st.Fields.List {
					sel, ok := field.Type.(*ast.SelectorExpr)
					if ok && sel.Sel.Name == "Duration" && field.Tag != nil && strings.Contains(field.Tag.Value, `yaml:"`) {
						found = append(found, f.Name.Name+"."+ts.Name.Name)
						break
					}
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(found) < len(configs) {
		t.Fatalf("found only %d configuration types (%v): is the walk broken?", len(found), found)
	}
	seen := map[string]bool{}
	for _, name := range found {
		seen[name] = true
	}
	for name := range notYet {
		if !seen[name] {
			t.Errorf("notYet lists %s, which has no duration field any more: take it out", name)
		}
	}
	for _, name := range found {
		if _, ok := configs[name]; ok {
			continue
		}
		if _, ok := notYet[name]; ok {
			continue
		}
		t.Errorf("%s has duration fields but is not in configs: give it an UnmarshalJSON (see package jsonconfig) and list it", name)
	}
}
