package doccheck

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// undocumentedYet are exported fields known to lack a doc comment, each
// with the reason it is not documented yet. The test fails when one of them
// gets a comment, so that the list only shrinks.
var undocumentedYet = map[string]string{}

// pkgFile is one parsed non-test Go file of the core module.
type pkgFile struct {
	pkg  string // the package's directory, relative to the module root ("." for the root)
	name string // the package name
	file *ast.File
}

// parseModule parses every non-test Go file of the core module: the
// module root and its directories, not those of other modules (a go.mod
// of their own), internal packages, examples or testdata.
func parseModule(t *testing.T) (*token.FileSet, []pkgFile) {
	t.Helper()
	root := filepath.Join("..", "..")
	fset := token.NewFileSet()
	var files []pkgFile
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path == root {
				return nil
			}
			if _, err := os.Stat(filepath.Join(path, "go.mod")); err == nil {
				return filepath.SkipDir
			}
			if n := d.Name(); n == "internal" || n == "examples" || n == "testdata" || strings.HasPrefix(n, ".") || strings.HasPrefix(n, "_") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ParseComments|parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		if f.Name.Name == "main" {
			return nil
		}
		rel, _ := filepath.Rel(root, filepath.Dir(path))
		files = append(files, pkgFile{pkg: filepath.ToSlash(rel), name: f.Name.Name, file: f})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 50 {
		t.Fatalf("parsed only %d files: is the walk broken?", len(files))
	}
	return fset, files
}

// receiverName returns the name of a method's receiver type.
func receiverName(fd *ast.FuncDecl) string {
	t := fd.Recv.List[0].Type
	if s, ok := t.(*ast.StarExpr); ok {
		t = s.X
	}
	switch x := t.(type) {
	case *ast.IndexExpr:
		t = x.X
	case *ast.IndexListExpr:
		t = x.X
	}
	if id, ok := t.(*ast.Ident); ok {
		return id.Name
	}
	return ""
}

// TestExportedIdentifiersAreDocumented fails for every exported function,
// method of an exported type, type, constant, variable, struct field and
// interface method of the core module without a doc comment (a group's
// comment counts for the constants, variables and types of the group; a
// line comment counts for a field). Fields carry their units and ranges.
func TestExportedIdentifiersAreDocumented(t *testing.T) {
	fset, files := parseModule(t)
	exempt := make(map[string]bool, len(undocumentedYet))
	for name := range undocumentedYet {
		exempt[name] = true
	}
	var missing []string
	report := func(pos token.Pos, name string) {
		if exempt[name] {
			delete(exempt, name)
			return
		}
		missing = append(missing, fset.Position(pos).String()+": "+name)
	}
	hasDoc := func(groups ...*ast.CommentGroup) bool {
		for _, g := range groups {
			if g != nil && strings.TrimSpace(g.Text()) != "" {
				return true
			}
		}
		return false
	}
	fields := func(typeName string, list *ast.FieldList, pf pkgFile) {
		for _, f := range list.List {
			for _, n := range f.Names {
				if n.IsExported() && !hasDoc(f.Doc, f.Comment) {
					report(n.Pos(), pf.name+"."+typeName+"."+n.Name)
				}
			}
		}
	}
	for _, pf := range files {
		for _, decl := range pf.file.Decls {
			switch d := decl.(type) {
			case *ast.FuncDecl:
				if !d.Name.IsExported() {
					continue
				}
				name := pf.name + "." + d.Name.Name
				if d.Recv != nil {
					recv := receiverName(d)
					if !ast.IsExported(recv) {
						continue // a method of an unexported type: not in the docs
					}
					name = pf.name + "." + recv + "." + d.Name.Name
				}
				if !hasDoc(d.Doc) {
					report(d.Pos(), name)
				}
			case *ast.GenDecl:
				for _, spec := range d.Specs {
					switch s := spec.(type) {
					case *ast.TypeSpec:
						if !s.Name.IsExported() {
							continue
						}
						if !hasDoc(s.Doc, d.Doc, s.Comment) {
							report(s.Pos(), pf.name+"."+s.Name.Name)
						}
						switch tt := s.Type.(type) {
						case *ast.StructType:
							fields(s.Name.Name, tt.Fields, pf)
						case *ast.InterfaceType:
							fields(s.Name.Name, tt.Methods, pf)
						}
					case *ast.ValueSpec:
						for _, n := range s.Names {
							if n.IsExported() && !hasDoc(s.Doc, d.Doc, s.Comment) {
								report(n.Pos(), pf.name+"."+n.Name)
							}
						}
					}
				}
			}
		}
	}
	for _, m := range missing {
		t.Errorf("%s has no doc comment", m)
	}
	var stale []string
	for name := range exempt {
		stale = append(stale, name)
	}
	sort.Strings(stale)
	for _, name := range stale {
		t.Errorf("%s is documented now, or gone: take it out of undocumentedYet", name)
	}
}
