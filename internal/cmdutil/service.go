package cmdutil

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/deimos-cli/deimos/pkg/config"
	"github.com/deimos-cli/deimos/pkg/db"
	"github.com/deimos-cli/deimos/pkg/errs"
	"github.com/deimos-cli/deimos/pkg/httpserver"
	"github.com/deimos-cli/deimos/pkg/kafkaclient"
	"github.com/deimos-cli/deimos/pkg/registry"
	"github.com/deimos-cli/deimos/pkg/sdnotify"
	"github.com/deimos-cli/deimos/pkg/supervise"
)

// JobLabel is the label every job's metric series carries: the job's name.
// (Not "job": Prometheus sets that label on every scraped series itself.)
const JobLabel = "deimos_job"

// Service runs jobs the way every long-running command does: under a
// supervisor, with the one HTTP server (/metrics, /healthz, /readyz,
// /status) when an address is given, and systemd notification when
// $NOTIFY_SOCKET is set. `deimos start`, `outbox run`, `poller run` and
// `consume` all use it.
type Service struct {
	f   *Factory
	cfg *config.Config
	log *slog.Logger
	reg *prometheus.Registry
}

// NewService returns a service over cfg, logging to log. Its metrics
// registry has the Go and process collectors.
func (f *Factory) NewService(cfg *config.Config, log *slog.Logger) *Service {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return &Service{f: f, cfg: cfg, log: log, reg: reg}
}

// Registerer is where job registers its metrics: every series gets the
// label deimos_job=job. Call it once per job (a job's Run may restart;
// its metrics are registered once, outside Run).
func (s *Service) Registerer(job string) prometheus.Registerer {
	return prometheus.WrapRegistererWith(prometheus.Labels{JobLabel: job}, s.reg)
}

// Needs names the services /readyz checks.
type Needs struct {
	DB, Kafka, Registry bool
}

// ServiceOptions configure Run.
type ServiceOptions struct {
	// HTTPAddr is where to serve (empty: no server); AddrFlag names the
	// flag that set it, for a bind error.
	HTTPAddr, AddrFlag string
	Policy             supervise.Policy
	Backoff            time.Duration
	MaxBackoff         time.Duration
	WedgedAfter        time.Duration
	Needs              Needs
	// OnListen is told the server's address (with the chosen port).
	OnListen func(addr string)
}

// AddHTTPFlag adds --http-addr to c.
func AddHTTPFlag(c *cobra.Command, p *string, def string) {
	usage := "serve /metrics, /healthz, /readyz and /status on ADDR (e.g. 127.0.0.1:9394; port 0 picks one)"
	if def == "" {
		usage += "; default: no server"
	}
	c.Flags().StringVar(p, "http-addr", def, usage)
}

// Run runs jobs under the supervisor until ctx ends or the policy says
// stop, serving HTTP and notifying systemd meanwhile.
func (s *Service) Run(ctx context.Context, jobs []supervise.Job, o ServiceOptions) error {
	sup, err := supervise.New(jobs, supervise.Options{Policy: o.Policy, Backoff: o.Backoff, MaxBackoff: o.MaxBackoff,
		WedgedAfter: o.WedgedAfter, Logger: s.log, Redact: s.f.Redact})
	if err != nil {
		return err
	}
	checks := &readiness{cfg: s.cfg, needs: o.Needs, redact: s.f.Redact}
	defer checks.close()
	if o.HTTPAddr != "" {
		flag := o.AddrFlag
		if flag == "" {
			flag = "--http-addr"
		}
		srv, err := httpserver.Start(httpserver.Options{Addr: o.HTTPAddr, Gatherer: s.reg, Logger: s.log,
			Health: func() httpserver.Check {
				ok, problems := sup.Healthy()
				return httpserver.Check{OK: ok, Problems: problems}
			},
			Ready: func(ctx context.Context) httpserver.Check {
				return checks.check(ctx, sup)
			},
			Status: func(ctx context.Context) any {
				ok, _ := sup.Healthy()
				return map[string]any{"version": s.f.Version, "healthy": ok, "jobs": sup.Status()}
			},
		})
		if err != nil {
			return errs.Usagef("%s %s: %w", flag, o.HTTPAddr, err)
		}
		defer srv.Shutdown()
		s.log.Info("serving metrics and health: /metrics /healthz /readyz /status", "addr", srv.Addr())
		if o.OnListen != nil {
			o.OnListen(srv.Addr())
		}
	}
	n := sdnotify.FromEnv(s.getenv)
	runCtx, stopNotify := context.WithCancel(ctx)
	var wg sync.WaitGroup
	if n.Enabled() {
		wg.Add(1)
		go func() { defer wg.Done(); s.notifyLoop(runCtx, ctx, n, sup, len(jobs)) }()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		select {
		case <-ctx.Done():
			s.log.Info("stop requested: finishing the work in flight")
		case <-runCtx.Done():
		}
	}()
	err = sup.Run(ctx)
	stopNotify()
	wg.Wait()
	if n.Enabled() {
		_ = n.Stopping("stopped")
	}
	var je *supervise.JobError
	if len(jobs) == 1 && errors.As(err, &je) {
		return je.Err // a command running one job reports its error as before
	}
	return err
}

func (s *Service) getenv(k string) string {
	if s.f.Getenv != nil {
		v, _ := s.f.Getenv(k)
		return v
	}
	return os.Getenv(k)
}

// notifyLoop tells systemd READY=1 once every job has started, WATCHDOG=1
// at half the watchdog interval while no job is wedged, and STOPPING=1 as
// soon as a stop is requested (ctx ends).
func (s *Service) notifyLoop(runCtx, stopCtx context.Context, n *sdnotify.Notifier, sup *supervise.Supervisor, jobs int) {
	tick := 100 * time.Millisecond
	wd := n.WatchdogInterval() / 2
	var lastPing time.Time
	ready := false
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		if !ready {
			if ok, _ := sup.Started(); ok {
				ready = true
				if err := n.Ready(fmt.Sprintf("%d job(s) running", jobs)); err != nil {
					s.log.Warn("systemd notification failed", "error", err)
				}
			}
		}
		if wd > 0 && time.Since(lastPing) >= wd {
			if ok, problems := sup.Healthy(); ok {
				_ = n.Watchdog()
				lastPing = time.Now()
			} else {
				_ = n.Status(strings.Join(problems, "; "))
			}
		}
		select {
		case <-stopCtx.Done():
			_ = n.Stopping("stopping: finishing in-flight work")
			return
		case <-runCtx.Done():
			return
		case <-t.C:
		}
	}
}

// readiness checks the services the jobs need, each within the request's
// deadline, over clients opened on first use and kept.
type readiness struct {
	cfg    *config.Config
	needs  Needs
	redact func(string) string

	mu  sync.Mutex
	d   *db.DB
	kcl *kgo.Client
	src *sr.Client
}

func (r *readiness) close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.d != nil {
		r.d.Close()
	}
	if r.kcl != nil {
		r.kcl.Close()
	}
}

func (r *readiness) check(ctx context.Context, sup *supervise.Supervisor) httpserver.Check {
	var mu sync.Mutex
	var problems []string
	add := func(what string, err error) {
		if err != nil {
			mu.Lock()
			problems = append(problems, what+": "+r.redact(err.Error()))
			mu.Unlock()
		}
	}
	var wg sync.WaitGroup
	if r.needs.DB {
		wg.Add(1)
		go func() { defer wg.Done(); add("database", r.pingDB(ctx)) }()
	}
	if r.needs.Kafka {
		wg.Add(1)
		go func() { defer wg.Done(); add("kafka", r.pingKafka(ctx)) }()
	}
	if r.needs.Registry && r.cfg.Schema.Registry.URL != "" {
		wg.Add(1)
		go func() { defer wg.Done(); add("schema registry", r.pingRegistry(ctx)) }()
	}
	wg.Wait()
	if ok, waiting := sup.Started(); !ok {
		problems = append(problems, waiting...)
	}
	return httpserver.Check{OK: len(problems) == 0, Problems: problems}
}

func (r *readiness) pingDB(ctx context.Context) error {
	r.mu.Lock()
	d := r.d
	r.mu.Unlock()
	if d == nil {
		nd, err := OpenDB(ctx, r.cfg)
		if err != nil {
			return err
		}
		nd.SetMaxOpenConns(1)
		r.mu.Lock()
		if r.d == nil {
			r.d = nd
		} else {
			nd.Close()
		}
		r.mu.Unlock()
		return nil // Open pinged it
	}
	if err := d.PingContext(ctx); err != nil {
		return fmt.Errorf("%s: %w", d.URL, err)
	}
	return nil
}

func (r *readiness) pingKafka(ctx context.Context) error {
	r.mu.Lock()
	if r.kcl == nil {
		cl, err := kafkaclient.NewClient(r.cfg.Kafka)
		if err != nil {
			r.mu.Unlock()
			return err
		}
		r.kcl = cl
	}
	cl := r.kcl
	r.mu.Unlock()
	return kafkaclient.PingBrokers(ctx, cl, r.cfg.Kafka.Brokers) // readiness: no probe on every check
}

func (r *readiness) pingRegistry(ctx context.Context) error {
	r.mu.Lock()
	if r.src == nil {
		cl, err := registry.New(r.cfg.Schema.Registry)
		if err != nil {
			r.mu.Unlock()
			return err
		}
		r.src = cl
	}
	cl := r.src
	r.mu.Unlock()
	for _, res := range cl.Compatibility(ctx) {
		if res.Err != nil {
			return res.Err
		}
	}
	return nil
}
