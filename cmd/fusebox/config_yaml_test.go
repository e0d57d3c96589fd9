package main

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/fusebox-go/fusebox"
	"github.com/fusebox-go/fusebox/breaker"
	"github.com/fusebox-go/fusebox/bulkhead"
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

// The module's configuration types read the same document alike from YAML
// (gopkg.in/yaml.v3, which takes durations as strings) and from JSON
// (whose UnmarshalJSON takes them as strings too, or as nanoseconds).
func TestConfigsReadYAMLAndJSONAlike(t *testing.T) {
	configs := []func() any{
		func() any { return new(breaker.Config) },
		func() any { return new(bulkhead.Config) },
		func() any { return new(ratelimit.Config) },
		func() any { return new(ratelimit.WindowConfig) },
		func() any { return new(ratelimit.KeyedConfig) },
		func() any { return new(retry.Config) },
		func() any { return new(retry.BudgetConfig) },
		func() any { return new(hedge.Config) },
		func() any { return new(timeout.Config) },
		func() any { return new(fallback.CacheConfig) },
		func() any { return new(registry.Config[*fusebox.Pipeline]) },
		func() any { return new(dashboard.Config) },
		func() any { return new(fuseboxslog.Config) },
		func() any { return new(fuseboxhttp.HealthConfig) },
		func() any { return new(fuseboxhttp.LoadShedderConfig) },
		func() any { return new(fuseboxhttp.RateLimiterConfig) },
		func() any { return new(fuseboxhttp.DeadlineConfig) },
		func() any { return new(fuseboxhttp.ShutdownConfig) },
	}
	for _, mk := range configs {
		typ := reflect.TypeOf(mk()).Elem()
		t.Run(typ.String(), func(t *testing.T) {
			var yamlLines, jsonFields []string
			for i := 0; i < typ.NumField(); i++ {
				f := typ.Field(i)
				if f.Type != reflect.TypeFor[time.Duration]() {
					continue
				}
				y, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
				j, _, _ := strings.Cut(f.Tag.Get("json"), ",")
				if y != j {
					t.Fatalf("%s: yaml name %q, json name %q: want the same", f.Name, y, j)
				}
				d := time.Duration(i+1) * 1500 * time.Millisecond
				yamlLines = append(yamlLines, fmt.Sprintf("%s: %s", y, d))
				jsonFields = append(jsonFields, fmt.Sprintf("%q: %q", j, d.String()))
			}
			fromYAML, fromJSON := mk(), mk()
			if err := yaml.Unmarshal([]byte(strings.Join(yamlLines, "\n")), fromYAML); err != nil {
				t.Fatalf("YAML: %v", err)
			}
			if err := json.Unmarshal([]byte("{"+strings.Join(jsonFields, ",")+"}"), fromJSON); err != nil {
				t.Fatalf("JSON: %v", err)
			}
			if !reflect.DeepEqual(fromYAML, fromJSON) {
				t.Fatalf("YAML gave %+v, JSON %+v", fromYAML, fromJSON)
			}
			if reflect.DeepEqual(fromYAML, mk()) {
				t.Fatal("the document set nothing")
			}
		})
	}
}
