package fuseboxprom_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/fusebox-go/fusebox/fuseboxprom"
)

// lockedBuffer collects a process's output, safe to read while it runs.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TestRealPrometheus runs a real Prometheus server (the Debian package
// prometheus; CI installs it) that scrapes the collector every second over
// HTTP, and asks its query API for the open breaker.
func TestRealPrometheus(t *testing.T) {
	bin := needTool(t, "prometheus")

	col := newCollector(t, fuseboxprom.Config{})
	mustAdd(t, col, "payments", openBreaker(t, "payments"))
	reg := prometheus.NewRegistry()
	if err := col.Register(reg); err != nil {
		t.Fatal(err)
	}
	target := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer target.Close()

	dir := t.TempDir()
	config := fmt.Sprintf(`global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: fusebox
    static_configs:
      - targets: ['%s']
`, target.Listener.Addr())
	configPath := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(configPath, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	var out lockedBuffer
	cmd := exec.Command(bin,
		"--config.file="+configPath,
		"--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr,
		"--log.level=warn",
	)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", bin, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		_ = cmd.Process.Kill()
		<-exited
	}()

	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	query := "http://" + addr + "/api/v1/query?query=" + url.QueryEscape(`fusebox_breaker_state{state="open"}`)
	deadline := time.Now().Add(30 * time.Second)
	var last string
	for {
		select {
		case err := <-exited:
			exited <- err // for the deferred cleanup
			t.Fatalf("prometheus exited early: %v\n%s", err, out.String())
		default:
		}
		if v, err := queryOpen(client, query); err != nil {
			last = err.Error()
		} else if v == "1" {
			return // the breaker's open state went through a real scrape
		} else {
			last = "value " + v
		}
		if time.Now().After(deadline) {
			t.Fatalf("prometheus did not report the open breaker within 30s; last answer: %s\nprometheus output:\n%s", last, out.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// queryOpen asks Prometheus for the query and returns the value of the one
// series of the breaker named payments.
func queryOpen(client *http.Client, query string) (string, error) {
	resp, err := client.Get(query)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var r struct {
		Status string `json:"status"`
		Data   struct {
			Result []struct {
				Metric map[string]string `json:"metric"`
				Value  [2]any            `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return "", fmt.Errorf("status %s: %v", resp.Status, err)
	}
	if r.Status != "success" {
		return "", fmt.Errorf("query status %q", r.Status)
	}
	if len(r.Data.Result) == 0 {
		return "", fmt.Errorf("no series yet")
	}
	if len(r.Data.Result) != 1 {
		return "", fmt.Errorf("%d series, want 1: %+v", len(r.Data.Result), r.Data.Result)
	}
	res := r.Data.Result[0]
	if res.Metric["name"] != "payments" || res.Metric["key"] != "" || res.Metric["job"] != "fusebox" {
		return "", fmt.Errorf("series %v, want name=payments, job=fusebox", res.Metric)
	}
	v, _ := res.Value[1].(string)
	return v, nil
}
