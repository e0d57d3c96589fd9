package readme

import (
	"bufio"
	"bytes"
	"fmt"
	"go/format"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// snippet is one Go block of README.md.
type snippet struct {
	line int // of the block's first line of code, 1-based
	code string
}

// goBlocks returns the ```go blocks of a Markdown text, each without its
// fences and dedented by its opening fence's indentation. A block left
// open at the end of the text is an error.
func goBlocks(text []byte) ([]snippet, error) {
	var (
		blocks []snippet
		cur    *snippet
		indent string
		body   strings.Builder
		fence  int // line of the opening fence
	)
	sc := bufio.NewScanner(bytes.NewReader(text))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		switch {
		case cur == nil && trimmed == "```go":
			cur = &snippet{line: n + 1}
			indent = line[:len(line)-len(strings.TrimLeft(line, " \t"))]
			body.Reset()
			fence = n
		case cur != nil && trimmed == "```":
			cur.code = body.String()
			blocks = append(blocks, *cur)
			cur = nil
		case cur != nil:
			body.WriteString(strings.TrimPrefix(line, indent))
			body.WriteByte('\n')
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if cur != nil {
		return nil, fmt.Errorf("the ```go block opened on line %d is never closed", fence)
	}
	return blocks, nil
}

func TestGoBlocks(t *testing.T) {
	text := "# T\n\n```go\npackage main\n```\n\n- item\n\n  ```go\n  func main() {}\n  ```\n\n```sh\nls\n```\n"
	got, err := goBlocks([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	want := []snippet{{line: 4, code: "package main\n"}, {line: 10, code: "func main() {}\n"}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("goBlocks = %q, want %q", got, want)
	}
	if _, err := goBlocks([]byte("```go\npackage main\n")); err == nil {
		t.Error("an unclosed block: no error")
	}
}

// TestREADMESnippets builds every Go block of README.md as a program of
// its own, in a temporary module that requires what this module requires
// and replaces this repository's modules with their directories: a block
// must be a complete program, as formatted by gofmt, that builds and
// passes go vet. Compiler and vet messages name README.md's lines.
func TestREADMESnippets(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	blocks, err := goBlocks(readme)
	if err != nil {
		t.Fatalf("README.md: %v", err)
	}
	if len(blocks) == 0 {
		t.Fatal("README.md has no ```go block")
	}
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to build README.md's snippets: %v", err)
	}

	dir := t.TempDir()
	if err := writeModule(dir, root); err != nil {
		t.Fatal(err)
	}
	for i, b := range blocks {
		where := fmt.Sprintf("README.md:%d", b.line)
		if !strings.HasPrefix(b.code, "package main\n") || !strings.Contains(b.code, "\nfunc main() {") {
			t.Errorf("%s: a Go block must be a complete program, starting with \"package main\", with its imports and a main function", where)
			continue
		}
		if formatted, err := format.Source([]byte(b.code)); err != nil {
			t.Errorf("%s: %v", where, err)
			continue
		} else if !bytes.Equal(formatted, []byte(b.code)) {
			t.Errorf("%s: not formatted as gofmt does; gofmt gives:\n%s", where, formatted)
		}
		pkg := filepath.Join(dir, fmt.Sprintf("snippet%02d", i+1))
		if err := os.Mkdir(pkg, 0o755); err != nil {
			t.Fatal(err)
		}
		// The line directive makes the compiler and vet report README.md's
		// own lines.
		src := fmt.Sprintf("//line README.md:%d\n%s", b.line, b.code)
		if err := os.WriteFile(filepath.Join(pkg, "main.go"), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if t.Failed() {
		return
	}
	for _, args := range [][]string{{"build", "./..."}, {"vet", "./..."}} {
		cmd := exec.Command(goCmd, args...)
		cmd.Dir = dir
		// A module of its own, outside any workspace, with the
		// requirements written down: nothing is looked up or changed.
		cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=readonly")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go %s of README.md's Go blocks: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// replaceDir matches the directory of a replace directive of go.mod,
// relative to the examples module.
var replaceDir = regexp.MustCompile(`=> \.\.(/[^\s]*)?`)

// writeModule writes dir's go.mod and go.sum: this module's, renamed,
// with its replace directives pointing at root's directories.
func writeModule(dir, root string) error {
	mod, err := os.ReadFile(filepath.Join(root, "examples", "go.mod"))
	if err != nil {
		return err
	}
	text := string(mod)
	first, _, _ := strings.Cut(text, "\n")
	if !strings.HasPrefix(first, "module ") {
		return fmt.Errorf("examples/go.mod does not start with its module line: %q", first)
	}
	text = "module readmesnippets" + text[len(first):]
	text = replaceDir.ReplaceAllStringFunc(text, func(m string) string {
		return "=> " + filepath.Join(root, filepath.FromSlash(strings.TrimPrefix(m, "=> ..")))
	})
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte(text), 0o644); err != nil {
		return err
	}
	sum, err := os.ReadFile(filepath.Join(root, "examples", "go.sum"))
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "go.sum"), sum, 0o644)
}
