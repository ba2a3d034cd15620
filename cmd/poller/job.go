package poller

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/deimos-cli/deimos/internal/cmdutil"
	"github.com/deimos-cli/deimos/pkg/config"
	"github.com/deimos-cli/deimos/pkg/encode"
	"github.com/deimos-cli/deimos/pkg/kafkaclient"
	"github.com/deimos-cli/deimos/pkg/poller"
	"github.com/deimos-cli/deimos/pkg/registry"
	"github.com/deimos-cli/deimos/pkg/supervise"
)

// JobSettings are what poller jobs need beyond the config.
type JobSettings struct {
	Once bool
	Log  *slog.Logger
	// Metrics returns where a poller job registers its metrics (nil: none).
	Metrics func(job string) prometheus.Registerer
	// OnRun is told every run of every poller (optional).
	OnRun func(poller.RunStats)
}

// Jobs returns one job per poller, named after it: `poller run` runs
// them, and `deimos start` runs them beside the other jobs. Each run
// opens the database, the encoder and (for the kafka backend) a producer,
// checks the poller's table and polls until ctx ends (or, Once, until it
// has caught up).
func Jobs(cfg *config.Config, pollers []poller.Settings, s JobSettings) []supervise.Job {
	jobs := make([]supervise.Job, 0, len(pollers))
	for _, ps := range pollers {
		var m *poller.Metrics
		if s.Metrics != nil {
			m = poller.NewMetrics(s.Metrics(ps.Name))
		}
		jobs = append(jobs, supervise.Job{Name: ps.Name, Kind: "poller", Run: func(ctx context.Context, h *supervise.Handle) error {
			return runPoller(ctx, cfg, ps, s, m, h)
		}})
	}
	return jobs
}

func runPoller(ctx context.Context, cfg *config.Config, ps poller.Settings, s JobSettings, m *poller.Metrics, h *supervise.Handle) error {
	log := s.Log
	d, err := cmdutil.OpenDB(ctx, cfg)
	if err != nil {
		return err
	}
	defer d.Close()
	reg, err := registry.New(cfg.Schema.Registry)
	if err != nil {
		return err
	}
	enc, err := encode.New(encode.Options{Config: cfg, Registry: reg})
	if err != nil {
		return err
	}
	opts := poller.Options{DB: d, Encoder: enc, Logger: log, Metrics: m, Progress: h,
		OnRun: func(st poller.RunStats) {
			if st.Err == nil && !st.To.IsZero() {
				h.SetLag(time.Since(st.To).Seconds(), "seconds")
			}
			if s.OnRun != nil {
				s.OnRun(st)
			}
		}}
	if ps.Backend == "kafka" {
		cl, err := kafkaclient.NewClient(cfg.Kafka,
			kgo.RecordDeliveryTimeout(30*time.Second),
			kgo.ProducerBatchMaxBytes(1<<20),
			kgo.ProducerLinger(5*time.Millisecond),
			kgo.MaxBufferedRecords(100000),
			// As produce and the outbox relay (and librdkafka, ruby-kafka): let a
			// broker that allows it create a missing topic.
			kgo.AllowAutoTopicCreation(),
		)
		if err != nil {
			return err
		}
		defer cl.Close()
		pctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		err = kafkaclient.Ping(pctx, cl, cfg.Kafka)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		opts.Kafka = cl
	}
	eng, err := poller.New(opts)
	if err != nil {
		return err
	}
	log.Info("starting poller", "poller", ps.Name, "table", ps.Table, "topic", ps.Topic, "mode", ps.Mode, "backend", ps.Backend)
	return eng.Run(ctx, []poller.Settings{ps}, s.Once)
}

// runTally adds up each poller's runs for a --summary.
type runTally struct {
	mu    sync.Mutex
	order []string
	by    map[string]*pollerRuns
}

// pollerRuns is one poller in a summary's details.
type pollerRuns struct {
	Poller         string `json:"poller"`
	Runs           int    `json:"runs"`
	Batches        int    `json:"batches"`
	ErroredBatches int    `json:"errored_batches"`
	Messages       int    `json:"messages"`
	Error          string `json:"error,omitempty"`
}

func newRunTally(ps []poller.Settings) *runTally {
	t := &runTally{by: map[string]*pollerRuns{}}
	for _, p := range ps {
		t.order = append(t.order, p.Name)
		t.by[p.Name] = &pollerRuns{Poller: p.Name}
	}
	return t
}

func (t *runTally) add(st poller.RunStats) {
	t.mu.Lock()
	defer t.mu.Unlock()
	name, _ := strings.CutSuffix(st.Poller, ":deletions")
	r := t.by[name]
	if r == nil {
		return
	}
	r.Runs++
	r.Batches += st.Batches
	r.ErroredBatches += st.ErroredBatches
	r.Messages += st.Messages
	if st.Err != nil {
		r.Error = st.Err.Error()
	}
}

func (t *runTally) into(s *cmdutil.Summary) {
	t.mu.Lock()
	defer t.mu.Unlock()
	var details []pollerRuns
	s.Set("pollers", int64(len(t.order)))
	for _, n := range t.order {
		r := *t.by[n]
		details = append(details, r)
		s.Count("batches", int64(r.Batches))
		s.Count("errored_batches", int64(r.ErroredBatches))
		s.Count("messages", int64(r.Messages))
		if r.ErroredBatches > 0 {
			s.Skip(map[string]any{"poller": n, "errored_batches": r.ErroredBatches, "reason": "batches given up after retries (skipped)"})
		}
	}
	s.Details = details
}
