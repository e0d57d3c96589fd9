package releasetest

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"
	modzip "golang.org/x/mod/zip"
)

const (
	core = "github.com/fusebox-go/fusebox"
	// version is the release the proxy test makes: the first one.
	version = "v0.1.0"
	// apacheSHA256 is the SHA-256 of the Apache License 2.0 as apache.org
	// publishes it (LICENSE-2.0.txt), the file Debian ships as
	// /usr/share/common-licenses/Apache-2.0.
	apacheSHA256 = "cfc7749b96f63bd31c3c42b5c471bf756814053e847c10f3eb003417bc523d30"
)

// published are the directories of the modules scripts/release.sh tags,
// "" for the core; unpublished the modules of tests and benchmarks.
var (
	published   = []string{"", "fuseboxprom", "fuseboxotel", "fuseboxgrpc", "cmd/fusebox"}
	unpublished = []string{"dashboard/browsertest", "bench", "releasetest", "examples"}
)

func modPath(dir string) string {
	if dir == "" {
		return core
	}
	return core + "/" + dir
}

func tagName(dir string) string {
	if dir == "" {
		return version
	}
	return dir + "/" + version
}

// repoRoot is the repository's root: the parent of this module.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.work")); err != nil {
		t.Fatalf("the repository root %s has no go.work: %v", root, err)
	}
	return root
}

// workspaceModules are the directories of go.work's modules, relative to
// the root, "" for the root.
func workspaceModules(t *testing.T, root string) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, "go.work"))
	if err != nil {
		t.Fatal(err)
	}
	wf, err := modfile.ParseWork("go.work", data, nil)
	if err != nil {
		t.Fatal(err)
	}
	var dirs []string
	for _, u := range wf.Use {
		d := path.Clean(u.Path)
		if d == "." {
			d = ""
		}
		dirs = append(dirs, d)
	}
	return dirs
}

// TestLicenses: every module's directory holds the Apache License 2.0,
// verbatim (what pkg.go.dev recognises), and the same NOTICE with the
// copyright line; every module is either published or not.
func TestLicenses(t *testing.T) {
	root := repoRoot(t)
	notice, err := os.ReadFile(filepath.Join(root, "NOTICE"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(notice, []byte("Copyright ")) || !bytes.Contains(notice, []byte("The Fusebox Authors")) {
		t.Errorf("NOTICE has no copyright line of The Fusebox Authors:\n%s", notice)
	}
	mods := workspaceModules(t, root)
	for _, dir := range mods {
		lic, err := os.ReadFile(filepath.Join(root, dir, "LICENSE"))
		if err != nil {
			t.Errorf("module %q: %v", dir, err)
			continue
		}
		if sum := sha256.Sum256(lic); hex.EncodeToString(sum[:]) != apacheSHA256 {
			t.Errorf("module %q: LICENSE is not the Apache License 2.0 verbatim (SHA-256 %x)", dir, sum)
		}
		n, err := os.ReadFile(filepath.Join(root, dir, "NOTICE"))
		if err != nil {
			t.Errorf("module %q: %v", dir, err)
		} else if !bytes.Equal(n, notice) {
			t.Errorf("module %q: NOTICE differs from the root's", dir)
		}
	}
	known := slices.Concat(published, unpublished)
	slices.Sort(known)
	slices.Sort(mods)
	if !slices.Equal(known, mods) {
		t.Errorf("go.work's modules %q are not the published and unpublished ones %q: update this test and scripts/release.sh", mods, known)
	}
}

// runner runs commands under a context, with an environment.
type runner struct {
	t   *testing.T
	ctx context.Context
	env []string
}

// run runs name args in dir and returns its combined output; it fails the
// test if the command fails.
func (r runner) run(dir, name string, args ...string) string {
	r.t.Helper()
	out, err := r.try(dir, name, args...)
	if err != nil {
		r.t.Fatalf("%s %s (in %s): %v\n%s", name, strings.Join(args, " "), dir, err, out)
	}
	return out
}

// try runs name args in dir and returns its combined output and error.
func (r runner) try(dir, name string, args ...string) (string, error) {
	r.t.Helper()
	cmd := exec.CommandContext(r.ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = r.env
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// gitEnv is the environment of git and release.sh in a copy of the
// repository: the user's git configuration left out (no signing, no
// hooks), a fixed identity.
func gitEnv() []string {
	return append(os.Environ(),
		"GIT_CONFIG_GLOBAL="+os.DevNull,
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=Fusebox release test",
		"GIT_AUTHOR_EMAIL=release-test@fusebox.invalid",
		"GIT_COMMITTER_NAME=Fusebox release test",
		"GIT_COMMITTER_EMAIL=release-test@fusebox.invalid",
	)
}

// copyRepo copies the repository's working tree (tracked files as they are
// now, and untracked ones git does not ignore) into a new git repository
// of one commit, and returns its directory. Tags and commits made there
// never reach the repository.
func copyRepo(t *testing.T, r runner, root string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "fusebox")
	list := r.run(root, "git", "ls-files", "-z", "--cached", "--others", "--exclude-standard")
	n := 0
	for _, name := range strings.Split(list, "\x00") {
		if name == "" {
			continue
		}
		src := filepath.Join(root, filepath.FromSlash(name))
		info, err := os.Lstat(src)
		if err != nil || !info.Mode().IsRegular() {
			continue // deleted in the work tree, or not a file
		}
		data, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		to := filepath.Join(dst, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(to, data, info.Mode().Perm()); err != nil {
			t.Fatal(err)
		}
		n++
	}
	r.run(dst, "git", "init", "-q", "-b", "main")
	r.run(dst, "git", "add", "-A")
	r.run(dst, "git", "commit", "-q", "-m", "The working tree of "+root)
	r.t.Logf("copied %d files of the working tree into %s", n, dst)
	return dst
}

func requireGitAndBash(t *testing.T) {
	t.Helper()
	for _, tool := range []string{"git", "bash", "go"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is needed: %v", tool, err)
		}
	}
}

// TestReleaseScriptDryRun: release.sh --dry-run prints the release and
// changes nothing; the script refuses versions that are not vX.Y.Z (major
// 0 or 1) before doing anything.
func TestReleaseScriptDryRun(t *testing.T) {
	requireGitAndBash(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	r := runner{t: t, ctx: ctx, env: gitEnv()}
	repo := copyRepo(t, r, repoRoot(t))
	head := r.run(repo, "git", "rev-parse", "HEAD")

	out := r.run(repo, "bash", "scripts/release.sh", "--dry-run", "v0.7.0")
	for _, dir := range published {
		tag := strings.Replace(tagName(dir), version, "v0.7.0", 1)
		if !strings.Contains(out, "git tag -a "+tag+" ") {
			t.Errorf("the dry run does not show the tag %s:\n%s", tag, out)
		}
	}
	for _, dir := range unpublished {
		if strings.Contains(out, dir+"/v0.7.0") {
			t.Errorf("the dry run tags %s, a module of tests:\n%s", dir, out)
		}
	}
	for _, want := range []string{
		"(cd fuseboxprom && go mod edit -require=" + core + "@v0.7.0)",
		"(cd cmd/fusebox && go mod edit -dropreplace=" + core + ")",
		"git commit -q -m Release\\ v0.7.0",
		"git push origin HEAD v0.7.0 fuseboxprom/v0.7.0",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the dry run does not show %q:\n%s", want, out)
		}
	}
	if st := r.run(repo, "git", "status", "--porcelain"); st != "" {
		t.Errorf("the dry run changed the work tree:\n%s", st)
	}
	if tags := r.run(repo, "git", "tag", "-l"); tags != "" {
		t.Errorf("the dry run made tags:\n%s", tags)
	}
	if h := r.run(repo, "git", "rev-parse", "HEAD"); h != head {
		t.Errorf("the dry run committed: HEAD %s, was %s", h, head)
	}

	for _, bad := range []string{"0.1.0", "v1", "v0.1", "v01.2.3", "v2.0.0", "v1.2.3-", "v1.2.3+meta"} {
		out, err := r.try(repo, "bash", "scripts/release.sh", bad)
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 2 {
			t.Errorf("release.sh %s: %v, want exit status 2\n%s", bad, err, out)
		}
	}
	if tags := r.run(repo, "git", "tag", "-l"); tags != "" {
		t.Errorf("a refused release made tags:\n%s", tags)
	}
}

// consumerMain is a program of a module outside the repository that uses
// the core and fuseboxprom as a user would: a breaker opens, a Prometheus
// registry gathers its state through the collector.
const consumerMain = `package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fusebox-go/fusebox"
	"github.com/fusebox-go/fusebox/breaker"
	"github.com/fusebox-go/fusebox/fuseboxprom"
)

func main() {
	b, err := breaker.New(breaker.Config{Name: "payments", ConsecutiveFailures: 1})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ctx := context.Background()
	_ = b.Execute(ctx, func(context.Context) error { return errors.New("payments is down") })
	err = b.Execute(ctx, func(context.Context) error { return nil })
	fmt.Println("rejected:", errors.Is(err, fusebox.ErrOpen))

	col, err := fuseboxprom.New(fuseboxprom.Config{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := col.Add("payments", b); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	reg := prometheus.NewRegistry()
	if err := col.Register(reg); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	families, err := reg.Gather()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for _, f := range families {
		if f.GetName() != "fusebox_breaker_state" {
			continue
		}
		for _, m := range f.GetMetric() {
			if m.GetGauge().GetValue() != 1 {
				continue
			}
			labels := ""
			for _, l := range m.GetLabel() {
				if labels != "" {
					labels += ","
				}
				labels += fmt.Sprintf("%s=%q", l.GetName(), l.GetValue())
			}
			fmt.Printf("%s{%s} 1\n", f.GetName(), labels)
		}
	}
}
`

// TestReleaseThroughModuleProxy releases the working tree, in a copy, with
// scripts/release.sh, serves the tagged modules from a module proxy in a
// directory (GOPROXY=file://...), made as proxy.golang.org makes its zips
// (golang.org/x/mod/zip, from the tags), and uses them as a user would,
// from a module outside the repository: go get fuseboxprom@v0.1.0, build
// and run a program, go install cmd/fusebox@v0.1.0 and run it. The go
// command there reads nothing but that proxy and the local module cache's
// download directory for third-party modules: checksum database off, no
// toolchain download, no go.work, a module cache of its own. It takes a
// minute or two, so it is skipped in -short mode and under the race
// detector (scripts/test.sh runs it in its plain pass).
func TestReleaseThroughModuleProxy(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the release test runs the go command for a minute or two")
	}
	if raceEnabled {
		t.Skip("the release test runs programs, not code of its own: run without -race")
	}
	requireGitAndBash(t)
	budget := 5 * time.Minute
	if d, ok := t.Deadline(); ok && time.Until(d)-10*time.Second < budget {
		budget = time.Until(d) - 10*time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), budget)
	defer cancel()
	start := time.Now()
	phase := func(what string) {
		t.Logf("%6.1fs %s", time.Since(start).Seconds(), what)
	}

	root := repoRoot(t)
	host := runner{t: t, ctx: ctx, env: os.Environ()}
	hostModCache := strings.TrimSpace(host.run(root, "go", "env", "GOMODCACHE"))
	hostBuildCache := strings.TrimSpace(host.run(root, "go", "env", "GOCACHE"))

	// The repository, copied, its modules back at v0.0.0 of each other so
	// that the version the consumer gets is the one release.sh sets.
	g := runner{t: t, ctx: ctx, env: gitEnv()}
	repo := copyRepo(t, g, root)
	for _, dir := range workspaceModules(t, repo) {
		for _, p := range published {
			if p != dir && requires(t, filepath.Join(repo, dir, "go.mod"), modPath(p)) {
				g.run(filepath.Join(repo, dir), "go", "mod", "edit", "-require="+modPath(p)+"@v0.0.0")
			}
		}
	}
	g.run(repo, "git", "commit", "-q", "-a", "-m", "Requirements at v0.0.0")
	phase("copied the working tree")

	out := g.run(repo, "bash", "scripts/release.sh", version)
	t.Logf("release.sh %s:\n%s", version, out)
	phase("release.sh " + version)

	tags := strings.Fields(g.run(repo, "git", "tag", "-l"))
	var want []string
	for _, dir := range published {
		want = append(want, tagName(dir))
	}
	slices.Sort(tags)
	slices.Sort(want)
	if !slices.Equal(tags, want) {
		t.Fatalf("release.sh made the tags %q, want %q", tags, want)
	}
	if st := g.run(repo, "git", "status", "--porcelain"); st != "" {
		t.Errorf("release.sh left changes:\n%s", st)
	}
	for _, dir := range published {
		// As released: every requirement of a sibling at the version, no
		// replace directive (go install pkg@version refuses one).
		mf := parseMod(t, g.run(repo, "git", "show", tagName(dir)+":"+path.Join(dir, "go.mod")))
		checkRequires(t, "tag "+tagName(dir), mf, dir, version, dir != "")
		if len(mf.Replace) != 0 {
			t.Errorf("tag %s: go.mod has replace directives: %v", tagName(dir), mf.Replace[0].Old)
		}
		// Back to development: the same requirements, and the replace
		// directives again, so the repository builds its own code.
		mf = parseMod(t, g.run(repo, "git", "show", "HEAD:"+path.Join(dir, "go.mod")))
		checkRequires(t, "HEAD", mf, dir, version, dir != "")
		if dir != "" && !slices.ContainsFunc(mf.Replace, func(r *modfile.Replace) bool { return r.Old.Path == core }) {
			t.Errorf("HEAD: %s/go.mod has no replace directive for %s", dir, core)
		}
	}
	for _, dir := range unpublished {
		mf := parseMod(t, g.run(repo, "git", "show", "HEAD:"+path.Join(dir, "go.mod")))
		checkRequires(t, "HEAD", mf, dir, version, false)
	}

	// The module proxy.
	proxy := filepath.Join(t.TempDir(), "proxy")
	for _, dir := range published {
		writeProxyModule(t, g, repo, proxy, dir)
	}
	phase("module proxy written")

	// The third-party modules the consumer needs, in the local module cache
	// (a no-op when CI's .ci/run or an earlier build fetched them): the only
	// step that may use the network, with the user's own settings.
	for _, dir := range []string{"fuseboxprom", "cmd/fusebox"} {
		envOff := runner{t: t, ctx: ctx, env: append(os.Environ(), "GOWORK=off")}
		envOff.run(filepath.Join(repo, dir), "go", "mod", "download")
	}
	phase("third-party modules in the local module cache")

	// The consumer, outside the repository, with nothing but the proxy and
	// the local cache's downloads.
	tmp := t.TempDir()
	gopath := filepath.Join(tmp, "gopath")
	bin := filepath.Join(tmp, "bin")
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GO") {
			env = append(env, kv)
		}
	}
	env = append(env,
		"GOENV=off",
		"GOTOOLCHAIN=local",
		"GOWORK=off",
		"GOFLAGS=-mod=mod -modcacherw",
		"GOPROXY="+fileURL(proxy)+","+fileURL(filepath.Join(hostModCache, "cache", "download")),
		"GOSUMDB=off",
		"GONOSUMDB=github.com/fusebox-go/*",
		"GOPRIVATE=",
		"GONOPROXY=",
		"GOINSECURE=",
		"GOPATH="+gopath,
		"GOMODCACHE="+filepath.Join(gopath, "pkg", "mod"),
		"GOCACHE="+hostBuildCache,
		"GOBIN="+bin,
	)
	c := runner{t: t, ctx: ctx, env: env}
	consumer := filepath.Join(tmp, "consumer")
	if err := os.MkdirAll(consumer, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(consumer, "go.mod"), "module example.com/consumer\n\ngo 1.25\n")
	writeFile(t, filepath.Join(consumer, "main.go"), consumerMain)

	c.run(consumer, "go", "get", modPath("fuseboxprom")+"@"+version)
	phase("go get fuseboxprom@" + version)
	exe := filepath.Join(consumer, "consumer")
	if runtime.GOOS == "windows" {
		exe += ".exe"
	}
	c.run(consumer, "go", "build", "-o", exe, ".")
	phase("go build")
	got := c.run(consumer, exe)
	t.Logf("the consumer's output:\n%s", got)
	for _, want := range []string{
		"rejected: true",
		`fusebox_breaker_state{key="",name="payments",state="open"} 1`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("the consumer's output lacks %q:\n%s", want, got)
		}
	}
	list := c.run(consumer, "go", "list", "-m", "all")
	for _, dir := range []string{"", "fuseboxprom"} {
		line := modPath(dir) + " " + version
		if !slices.Contains(strings.Split(list, "\n"), line) {
			t.Errorf("the consumer's build list lacks %q:\n%s", line, list)
		}
	}
	if strings.Contains(list, "=>") {
		t.Errorf("the consumer's build list has a replacement:\n%s", list)
	}
	if _, err := os.Stat(filepath.Join(gopath, "pkg", "mod", core+"@"+version, "LICENSE")); err != nil {
		t.Errorf("the core module as downloaded has no LICENSE: %v", err)
	}

	c.run(tmp, "go", "install", modPath("cmd/fusebox")+"@"+version)
	phase("go install cmd/fusebox@" + version)
	fusebox := filepath.Join(bin, "fusebox")
	if runtime.GOOS == "windows" {
		fusebox += ".exe"
	}
	if got := c.run(tmp, fusebox, "version"); !strings.HasPrefix(got, "fusebox "+version+" ") {
		t.Errorf("fusebox version: %q, want fusebox %s ...", got, version)
	}
	if got := c.run(tmp, fusebox, "demo", "--help"); !strings.Contains(got, "Usage: fusebox demo") {
		t.Errorf("fusebox demo --help:\n%s", got)
	}
	info := c.run(tmp, "go", "version", "-m", fusebox)
	for _, want := range []string{
		"\tmod\t" + modPath("cmd/fusebox") + "\t" + version + "\th1:",
		"\tdep\t" + core + "\t" + version + "\th1:",
	} {
		if !strings.Contains(info, want) {
			t.Errorf("go version -m fusebox lacks %q:\n%s", want, info)
		}
	}
	phase("done")
}

func fileURL(dir string) string {
	u := filepath.ToSlash(dir)
	if !strings.HasPrefix(u, "/") {
		u = "/" + u // a Windows drive
	}
	return "file://" + u
}

func writeFile(t *testing.T, name, data string) {
	t.Helper()
	if err := os.WriteFile(name, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func parseMod(t *testing.T, data string) *modfile.File {
	t.Helper()
	mf, err := modfile.Parse("go.mod", []byte(data), nil)
	if err != nil {
		t.Fatal(err)
	}
	return mf
}

// requires reports whether the go.mod file requires the module path.
func requires(t *testing.T, gomod, modulePath string) bool {
	t.Helper()
	data, err := os.ReadFile(gomod)
	if err != nil {
		t.Fatal(err)
	}
	return slices.ContainsFunc(parseMod(t, string(data)).Require, func(r *modfile.Require) bool {
		return r.Mod.Path == modulePath
	})
}

// checkRequires checks that mf, the go.mod of dir, requires every published
// module it requires at v, and, if needCore, the core.
func checkRequires(t *testing.T, where string, mf *modfile.File, dir, v string, needCore bool) {
	t.Helper()
	found := false
	for _, r := range mf.Require {
		if !strings.HasPrefix(r.Mod.Path, core) {
			continue
		}
		if r.Mod.Path == core {
			found = true
		}
		if r.Mod.Version != v {
			t.Errorf("%s: %s/go.mod requires %s %s, want %s", where, dir, r.Mod.Path, r.Mod.Version, v)
		}
	}
	if needCore && !found {
		t.Errorf("%s: %s/go.mod does not require %s", where, dir, core)
	}
}

// writeProxyModule writes the module of dir at its tag in the layout of
// the module proxy protocol (go help goproxy): $proxy/<escaped
// path>/@v/list, <version>.info, .mod and .zip, the zip made from the tag
// by golang.org/x/mod/zip, as proxy.golang.org makes it.
func writeProxyModule(t *testing.T, g runner, repo, proxy, dir string) {
	t.Helper()
	mod := module.Version{Path: modPath(dir), Version: version}
	escaped, err := module.EscapePath(mod.Path)
	if err != nil {
		t.Fatal(err)
	}
	vdir := filepath.Join(proxy, filepath.FromSlash(escaped), "@v")
	if err := os.MkdirAll(vdir, 0o755); err != nil {
		t.Fatal(err)
	}
	tag := tagName(dir)
	writeFile(t, filepath.Join(vdir, "list"), version+"\n")
	writeFile(t, filepath.Join(vdir, version+".mod"), g.run(repo, "git", "show", tag+":"+path.Join(dir, "go.mod")))
	when, err := time.Parse(time.RFC3339, strings.TrimSpace(g.run(repo, "git", "log", "-1", "--format=%cI", tag)))
	if err != nil {
		t.Fatal(err)
	}
	info, err := json.Marshal(struct {
		Version string
		Time    time.Time
	}{version, when.UTC()})
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(vdir, version+".info"), string(info)+"\n")

	var zbuf bytes.Buffer
	if err := modzip.CreateFromVCS(&zbuf, mod, repo, tag, dir); err != nil {
		t.Fatalf("zip of %s: %v", mod, err)
	}
	zipName := filepath.Join(vdir, version+".zip")
	if err := os.WriteFile(zipName, zbuf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := modzip.CheckZip(mod, zipName); err != nil {
		t.Fatalf("zip of %s: %v", mod, err)
	}

	// What the zip holds: the module's LICENSE and go.mod, and none of the
	// nested modules' files.
	zr, err := zip.NewReader(bytes.NewReader(zbuf.Bytes()), int64(zbuf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	prefix := mod.String() + "/"
	var names []string
	for _, f := range zr.File {
		names = append(names, strings.TrimPrefix(f.Name, prefix))
	}
	for _, want := range []string{"LICENSE", "NOTICE", "go.mod"} {
		if !slices.Contains(names, want) {
			t.Errorf("zip of %s lacks %s", mod, want)
		}
	}
	for _, n := range names {
		if n != "go.mod" && path.Base(n) == "go.mod" {
			t.Errorf("zip of %s holds another module's %s", mod, n)
		}
	}
	if dir == "" && !slices.Contains(names, "breaker/breaker.go") {
		t.Errorf("zip of %s lacks breaker/breaker.go", mod)
	}
	t.Logf("proxy: %s, %d files, %d bytes zipped", mod, len(names), zbuf.Len())
}
