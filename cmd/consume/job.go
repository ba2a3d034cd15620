package consume

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/deimos-cli/deimos/internal/cmdutil"
	"github.com/deimos-cli/deimos/pkg/admin"
	"github.com/deimos-cli/deimos/pkg/checkpoint"
	"github.com/deimos-cli/deimos/pkg/config"
	"github.com/deimos-cli/deimos/pkg/consume"
	"github.com/deimos-cli/deimos/pkg/encode"
	"github.com/deimos-cli/deimos/pkg/errs"
	"github.com/deimos-cli/deimos/pkg/kafkaclient"
	"github.com/deimos-cli/deimos/pkg/lagreport"
	"github.com/deimos-cli/deimos/pkg/registry"
	"github.com/deimos-cli/deimos/pkg/supervise"
)

// DefaultLagEvery is how often a consumer job reports its lag.
const DefaultLagEvery = 15 * time.Second

// JobSettings are what a consumer job needs beyond the config.
type JobSettings struct {
	Log *slog.Logger
	// Metrics is where the job registers deimos_consumer_lag (nil: none).
	Metrics prometheus.Registerer
	// LagEvery is how often the group's lag is read (0: never).
	LagEvery time.Duration
}

// jobSpec is one consumer, as `consume` runs it alone and `deimos start`
// beside the other jobs.
type jobSpec struct {
	name   string
	cfg    *config.Config
	opts   consume.Options // Handler, Decoder and Progress are set per run
	decode bool
	// handler builds the run's handler; reuse: it keeps no batch (printer).
	handler func(ctx context.Context) (h consume.Handler, reuse bool, err error)
	// closeHandler releases what handler opened.
	closeHandler func()
	settings     JobSettings
	onStats      func(consume.Stats, time.Duration)
}

func (s jobSpec) job() supervise.Job {
	var gauge *lagreport.Gauge
	if s.settings.Metrics != nil && s.opts.Group != "" {
		gauge = lagreport.NewGauge(s.settings.Metrics)
	}
	return supervise.Job{Name: s.name, Kind: "consumer", Run: func(ctx context.Context, h *supervise.Handle) error {
		return s.run(ctx, h, gauge)
	}}
}

func (s jobSpec) run(ctx context.Context, h *supervise.Handle, gauge *lagreport.Gauge) error {
	handler, reuse, err := s.handler(ctx)
	if s.closeHandler != nil {
		defer s.closeHandler()
	}
	if err != nil {
		return err
	}
	co := s.opts
	co.Handler, co.ReuseBatches, co.Progress = handler, reuse, h
	co.Reach = func(ctx context.Context, ping func(context.Context) error) error {
		return kafkaclient.Reach(ctx, s.cfg.Kafka, ping)
	}
	if s.decode {
		reg, err := registry.New(s.cfg.Schema.Registry)
		if err != nil {
			return err
		}
		eng, err := encode.New(encode.Options{Config: s.cfg, Registry: reg})
		if err != nil {
			return err
		}
		co.Decoder = eng
	}
	base, err := kafkaclient.Opts(s.cfg.Kafka)
	if err != nil {
		return err
	}
	if s.settings.LagEvery > 0 && co.Group != "" {
		lcl, err := kgo.NewClient(base...)
		if err != nil {
			return errs.Usagef("kafka client: %w", err)
		}
		defer lcl.Close()
		lctx, stopLag := context.WithCancel(ctx)
		done := make(chan struct{})
		defer func() { stopLag(); <-done }()
		go func() {
			defer close(done)
			lagreport.Run(lctx, kadm.NewClient(lcl), lagreport.Options{Group: co.Group, Every: s.settings.LagEvery, Gauge: gauge, Logger: s.settings.Log,
				OnReport: func(l admin.GroupLag) { h.SetLag(float64(l.TotalLag), "messages") }})
		}()
	}
	start := time.Now()
	st, err := consume.Run(ctx, base, co)
	if s.onStats != nil {
		s.onStats(st, time.Since(start))
	}
	return err
}

// ConfigJob returns the consumers: entry c as a job of `deimos start`:
// its topics, read in its group (committed offsets first, else from the
// beginning), into its sink and/or handler command, with checkpoints as
// configured, exactly as `consume --consumer NAME -g GROUP` runs it.
func ConfigJob(f *cmdutil.Factory, cfg *config.Config, c config.Consumer, s JobSettings) (supervise.Job, error) {
	if c.Name == "" {
		return supervise.Job{}, errs.Usagef("consumers: an entry has no name")
	}
	if len(c.Topics) == 0 {
		return supervise.Job{}, errs.Usagef("consumers[%s]: topics is required", c.Name)
	}
	if c.Group == "" {
		return supervise.Job{}, errs.Usagef("consumers[%s]: group is required to run it as a job (offsets are committed to it)", c.Name)
	}
	so := &sinkOptions{consumer: c.Name, maxRetries: -1, skipExitCode: checkpoint.DefaultSkipExitCode, log: s.Log}
	r, err := resolve(nil, cfg, so, c.Group)
	if err != nil {
		return supervise.Job{}, err
	}
	if r.Table == "" && r.Exec == "" {
		return supervise.Job{}, errs.Usagef("consumers[%s]: neither sink nor exec is set: nothing to do with its records", c.Name)
	}
	spec := jobSpec{name: c.Name, cfg: cfg, decode: true, settings: s,
		opts: consume.Options{Topics: c.Topics, Group: c.Group, Offset: consume.Offset{Kind: consume.OffsetBeginning}, WaitForTopics: true},
		handler: func(ctx context.Context) (consume.Handler, bool, error) {
			h, err := buildHandler(ctx, f, cfg, so, c.Group)
			return h, false, err
		},
		closeHandler: so.closeOpened,
	}
	return spec.job(), nil
}

// NeedsDB reports whether consumer c writes to the database (a table
// sink or checkpoints), for readiness checks.
func NeedsDB(c config.Consumer) bool { return c.Sink != "" || c.Checkpoint }
