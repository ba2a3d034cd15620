// Package httpserver is deimos's one operational HTTP server: Prometheus
// /metrics, /healthz, /readyz and a JSON /status. `deimos start`, `outbox
// run`, `poller run` and `consume` all serve through it (docs/start.md).
package httpserver

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/deimos-cli/deimos/pkg/httpguard"
)

// Check is a health or readiness verdict: OK, and what is wrong when not.
type Check struct {
	OK       bool     `json:"ok"`
	Problems []string `json:"problems,omitempty"`
}

// Options say what the server serves. A nil function serves a fixed OK
// (Health, Ready) or an empty object (Status).
type Options struct {
	// Addr is host:port (port 0 picks a free one).
	Addr     string
	Gatherer prometheus.Gatherer
	// Health answers /healthz: 200 when OK, 503 otherwise.
	Health func() Check
	// Ready answers /readyz: 200 when OK, 503 otherwise. ctx is bounded.
	Ready func(ctx context.Context) Check
	// Status answers /status with this value as JSON.
	Status func(ctx context.Context) any
	Logger *slog.Logger
}

// Timeouts of the server: a scrape or probe is small; nothing streams.
const (
	readHeaderTimeout = 5 * time.Second
	writeTimeout      = 30 * time.Second
	idleTimeout       = 2 * time.Minute
	readyTimeout      = 5 * time.Second
	shutdownTimeout   = 5 * time.Second
)

// Server is a started server.
type Server struct {
	srv  *http.Server
	ln   net.Listener
	done chan struct{}
}

// Start listens on o.Addr and serves in the background. A bind failure is
// returned at once (the caller names the flag).
func Start(o Options) (*Server, error) {
	ln, err := net.Listen("tcp", o.Addr)
	if err != nil {
		return nil, err
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	var h http.Handler = Handler(o)
	if ta, ok := ln.Addr().(*net.TCPAddr); ok && ta.IP.IsLoopback() {
		// A web page must not read /status through DNS rebinding: on a
		// loopback bind only loopback Host names are answered.
		host, _, _ := net.SplitHostPort(o.Addr)
		h = httpguard.Guard(httpguard.HostsFor(host, ln.Addr(), nil), h)
	}
	s := &Server{ln: ln, done: make(chan struct{}), srv: &http.Server{Handler: h,
		ReadHeaderTimeout: readHeaderTimeout, WriteTimeout: writeTimeout, IdleTimeout: idleTimeout}}
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			o.Logger.Error("http server stopped", "error", err)
		}
	}()
	return s, nil
}

// Addr is the address the server listens on (with the chosen port).
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Shutdown stops accepting, lets requests in flight finish (up to 5s),
// then closes.
func (s *Server) Shutdown() {
	ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := s.srv.Shutdown(ctx); err != nil {
		_ = s.srv.Close()
	}
	<-s.done
}

// Handler is the server's routes, for tests and embedding.
func Handler(o Options) http.Handler {
	mux := http.NewServeMux()
	if o.Gatherer != nil {
		mux.Handle("GET /metrics", promhttp.HandlerFor(o.Gatherer, promhttp.HandlerOpts{}))
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		c := Check{OK: true}
		if o.Health != nil {
			c = o.Health()
		}
		writeCheck(w, c)
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		c := Check{OK: true}
		if o.Ready != nil {
			ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
			defer cancel()
			c = o.Ready(ctx)
		}
		writeCheck(w, c)
	})
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		var v any = struct{}{}
		if o.Status != nil {
			ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
			defer cancel()
			v = o.Status(ctx)
		}
		writeJSON(w, http.StatusOK, v)
	})
	return mux
}

func writeCheck(w http.ResponseWriter, c Check) {
	code := http.StatusOK
	if !c.OK {
		code = http.StatusServiceUnavailable
	}
	writeJSON(w, code, c)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		code = http.StatusInternalServerError
		b, _ = json.Marshal(map[string]string{"error": err.Error()})
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = w.Write(append(b, '\n'))
}
