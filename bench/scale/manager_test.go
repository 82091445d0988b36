package scale_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// manager is `switchboard manager` running as its own process against the control
// plane, as the chart runs it, so that its memory is its own.
type manager struct {
	cmd        *exec.Cmd
	metricsURL string
	stderr     bytes.Buffer
	done       chan error
}

// startManager runs the manager on namespace ns with the given quality poll interval
// and waits (bounded) until its metrics endpoint answers.
func startManager(b *testing.B, ns string, poll time.Duration) *manager {
	b.Helper()
	port := freePort(b)
	m := &manager{metricsURL: fmt.Sprintf("http://127.0.0.1:%d/metrics", port), done: make(chan error, 1)}
	m.cmd = exec.Command(binary, "manager", "--leader-elect=false",
		fmt.Sprintf("--metrics-bind-address=127.0.0.1:%d", port), "--health-probe-bind-address=0",
		"--watch-namespaces="+ns, "--quality-poll-interval="+poll.String(), "--log-level=error")
	m.cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
	if v := os.Getenv("SCALE_GOMEMLIMIT"); v != "" {
		m.cmd.Env = append(m.cmd.Env, "GOMEMLIMIT="+v) // the manager's only, not the API server's
	}
	m.cmd.Stderr = &m.stderr
	if err := m.cmd.Start(); err != nil {
		b.Fatalf("starting the manager: %v", err)
	}
	go func() { m.done <- m.cmd.Wait() }()
	b.Cleanup(m.stop)
	if err := m.waitUp(time.Minute); err != nil {
		b.Fatalf("the manager: %v\n%s", err, m.stderr.String())
	}
	return m
}

func (m *manager) waitUp(limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		if _, err := m.scrape(); err == nil {
			return nil
		} else if time.Now().After(deadline) {
			return fmt.Errorf("metrics endpoint not up after %v: %w", limit, err)
		}
		select {
		case err := <-m.done:
			return fmt.Errorf("exited: %v", err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// stop ends the manager with SIGTERM, then SIGKILL after 30 s.
func (m *manager) stop() {
	_ = m.cmd.Process.Signal(os.Interrupt)
	select {
	case err := <-m.done:
		_ = err // the exit status of a stopped manager says nothing here
	case <-time.After(30 * time.Second):
		_ = m.cmd.Process.Kill()
		err := <-m.done
		_ = err
	}
}

// freePort asks the kernel for a free loopback port.
func freePort(b *testing.B) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatalf("listen: %v", err)
	}
	defer func() { _ = ln.Close() }()
	return ln.Addr().(*net.TCPAddr).Port
}

// scrape reads the manager's metrics.
func (m *manager) scrape() (map[string]float64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, m.metricsURL, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		return nil, err
	}
	return sums(families), nil
}

// sums adds up each family's counters and gauges over their label values, and keys
// controller_runtime_reconcile_total by controller as well.
func sums(families map[string]*dto.MetricFamily) map[string]float64 {
	out := map[string]float64{}
	for name, f := range families {
		for _, mt := range f.GetMetric() {
			v := mt.GetCounter().GetValue() + mt.GetGauge().GetValue()
			out[name] += v
			for _, l := range mt.GetLabel() {
				if l.GetName() == "controller" {
					out[name+"/"+l.GetValue()] += v
				}
			}
		}
	}
	return out
}

// procStatus reads a field of /proc/<pid>/status in kB (VmRSS, VmHWM) as MiB.
func procStatus(pid int, field string) (float64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer func() { _ = f.Close() }()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			return kb / 1024, err
		}
	}
	return 0, fmt.Errorf("/proc/%d/status has no %s", pid, field)
}

// heapSampler records the manager's largest Go heap (go_memstats_heap_inuse_bytes)
// seen while it runs, scraping every 250 ms.
type heapSampler struct {
	mu   sync.Mutex
	peak float64
	stop chan struct{}
	done chan struct{}
}

func sampleHeap(m *manager) *heapSampler {
	h := &heapSampler{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(h.done)
		for {
			if s, err := m.scrape(); err == nil {
				h.mu.Lock()
				h.peak = max(h.peak, s["go_memstats_heap_inuse_bytes"])
				h.mu.Unlock()
			}
			select {
			case <-h.stop:
				return
			case <-time.After(250 * time.Millisecond):
			}
		}
	}()
	return h
}

// peakMiB stops the sampler and returns the peak heap in MiB.
func (h *heapSampler) peakMiB() float64 {
	close(h.stop)
	<-h.done
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.peak / (1 << 20)
}
