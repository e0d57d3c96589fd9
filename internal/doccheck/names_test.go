package doccheck

import (
	"go/ast"
	"go/token"
	"strings"
	"testing"
)

// defaultsNamedOtherwise are Default constants named after something
// other than a Config field or a With option, with what they are the
// default of.
var defaultsNamedOtherwise = map[string]string{
	"fusebox.DefaultEventBuffer":          "the buffer of Events.Subscribe's subscriptions",
	"retry.DefaultDecorrelatedMultiplier": "Config.Multiplier with BackoffDecorrelated",
	"registry.DefaultRememberedPerKey":    "Config.MaxRemembered, per key of MaxKeys",
	"clock.DefaultResolution":             "NewCoarse's resolution",
	"breaker.DefaultSlowCallTime":         "deprecated name of DefaultSlowCallDuration",
}

// TestDefaultsAreNamedAfterTheirFields fails for an exported Default
// constant or variable that is not named Default<Field> after a field of a
// Config type of its package (or Default<Prefix><Field>, for a <Prefix>Config
// type: DefaultBudgetRatio is BudgetConfig.Ratio's), nor Default<Option>
// after a With<Option> function, nor listed in defaultsNamedOtherwise: a
// user reading DefaultSlowCallTime looked for a field SlowCallTime.
func TestDefaultsAreNamedAfterTheirFields(t *testing.T) {
	_, files := parseModule(t)
	type pkgNames struct {
		name     string
		defaults map[string]token.Pos
		accepted map[string]bool // what may follow "Default"
	}
	pkgs := map[string]*pkgNames{}
	for _, pf := range files {
		p := pkgs[pf.pkg]
		if p == nil {
			p = &pkgNames{name: pf.name, defaults: map[string]token.Pos{}, accepted: map[string]bool{}}
			pkgs[pf.pkg] = p
		}
		for _, decl := range pf.file.Decls {
			switch d := decl.(type) {
			case *ast.FuncDecl:
				if d.Recv == nil && strings.HasPrefix(d.Name.Name, "With") {
					p.accepted[strings.TrimPrefix(d.Name.Name, "With")] = true
				}
			case *ast.GenDecl:
				for _, spec := range d.Specs {
					switch s := spec.(type) {
					case *ast.TypeSpec:
						st, ok := s.Type.(*ast.StructType)
						if !ok || !strings.HasSuffix(s.Name.Name, "Config") {
							continue
						}
						prefix := strings.TrimSuffix(s.Name.Name, "Config")
						for _, f := range st.Fields.List {
							for _, n := range f.Names {
								p.accepted[n.Name] = true
								p.accepted[prefix+n.Name] = true
							}
						}
					case *ast.ValueSpec:
						for _, n := range s.Names {
							if n.IsExported() && strings.HasPrefix(n.Name, "Default") && n.Name != "Default" {
								p.defaults[n.Name] = n.Pos()
							}
						}
					}
				}
			}
		}
	}
	for _, p := range pkgs {
		for name := range p.defaults {
			if p.accepted[strings.TrimPrefix(name, "Default")] {
				continue
			}
			if _, ok := defaultsNamedOtherwise[p.name+"."+name]; ok {
				continue
			}
			t.Errorf("%s.%s is named after no Config field and no With option of its package: rename it after the field whose default it is (keeping the old name as a deprecated alias), or list it in defaultsNamedOtherwise", p.name, name)
		}
	}
}
