package httpserver

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func get(t *testing.T, url, host string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if host != "" {
		req.Host = host
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// Every route answers as documented: /metrics in the Prometheus text
// format, /healthz and /readyz 200 or 503 with the problems as JSON,
// /status the value as JSON. A loopback server refuses foreign Host names.
func TestRoutes(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "deimos_test_total", Help: "x"})
	reg.MustRegister(c)
	c.Add(3)
	var healthy, ready atomic.Bool
	healthy.Store(true)
	s, err := Start(Options{Addr: "127.0.0.1:0", Gatherer: reg,
		Health: func() Check {
			if healthy.Load() {
				return Check{OK: true}
			}
			return Check{Problems: []string{"job c is wedged"}}
		},
		Ready: func(ctx context.Context) Check {
			if _, ok := ctx.Deadline(); !ok {
				t.Error("readiness checks get no deadline")
			}
			return Check{OK: ready.Load(), Problems: []string{"database: down"}}
		},
		Status: func(context.Context) any { return map[string]int{"jobs": 2} },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown()
	base := "http://" + s.Addr()
	if code, body := get(t, base+"/metrics", ""); code != 200 || !strings.Contains(body, "deimos_test_total 3") {
		t.Errorf("/metrics %d %s", code, body)
	}
	if code, body := get(t, base+"/healthz", ""); code != 200 || !strings.Contains(body, `"ok": true`) {
		t.Errorf("/healthz %d %s", code, body)
	}
	healthy.Store(false)
	code, body := get(t, base+"/healthz", "")
	var chk Check
	if err := json.Unmarshal([]byte(body), &chk); err != nil || code != 503 || chk.OK || chk.Problems[0] != "job c is wedged" {
		t.Errorf("/healthz unhealthy: %d %s", code, body)
	}
	if code, body := get(t, base+"/readyz", ""); code != 503 || !strings.Contains(body, "database: down") {
		t.Errorf("/readyz %d %s", code, body)
	}
	ready.Store(true)
	if code, _ := get(t, base+"/readyz", ""); code != 200 {
		t.Errorf("/readyz ready: %d", code)
	}
	if code, body := get(t, base+"/status", ""); code != 200 || !strings.Contains(body, `"jobs": 2`) {
		t.Errorf("/status %d %s", code, body)
	}
	if code, _ := get(t, base+"/nope", ""); code != 404 {
		t.Errorf("unknown path: %d", code)
	}
	if code, body := get(t, base+"/status", "attacker.example:80"); code != 403 {
		t.Errorf("foreign Host on a loopback server: %d %s", code, body)
	}
	if code, _ := get(t, base+"/healthz", "localhost"); code != 503 {
		t.Errorf("Host localhost refused: %d", code)
	}
}

func TestBindError(t *testing.T) {
	s, err := Start(Options{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown()
	if _, err := Start(Options{Addr: s.Addr()}); err == nil {
		t.Fatal("a second bind to the same address succeeded")
	}
}
