package outbox

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/deimos-cli/deimos/internal/cmdutil"
	"github.com/deimos-cli/deimos/pkg/config"
	"github.com/deimos-cli/deimos/pkg/kafkaclient"
	"github.com/deimos-cli/deimos/pkg/outbox"
	"github.com/deimos-cli/deimos/pkg/supervise"
)

// JobName is the outbox relay's job name in `deimos start`.
const JobName = "outbox"

// RelaySettings are what a relay job needs beyond the config.
type RelaySettings struct {
	Outbox config.Outbox // outbox section with flags applied
	Once   bool
	Log    *slog.Logger
	// Metrics is where the relay registers its metrics (nil: none).
	Metrics prometheus.Registerer
	// OnSummary receives each run's summary and duration.
	OnSummary func(outbox.Summary, time.Duration)
}

// RelayJob is the outbox relay as a job: `outbox run` runs it alone,
// `deimos start` beside the other jobs. Each run opens the database and
// the producer, checks the tables and relays until ctx ends (or, Once,
// until the table is drained).
func RelayJob(cfg *config.Config, s RelaySettings) supervise.Job {
	var m *outbox.Metrics
	if s.Metrics != nil {
		m = outbox.NewMetrics(s.Metrics)
	}
	oc := s.Outbox
	return supervise.Job{Name: JobName, Kind: "outbox", Run: func(ctx context.Context, h *supervise.Handle) error {
		d, err := cmdutil.OpenDB(ctx, cfg)
		if err != nil {
			return err
		}
		defer d.Close()
		cl, err := kafkaclient.NewClient(cfg.Kafka, outbox.ProducerOpts(oc.DeliveryTimeout.D(), oc.MaxMessageBytes)...)
		if err != nil {
			return err
		}
		defer cl.Close()
		pctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		err = kafkaclient.Ping(pctx, cl, cfg.Kafka)
		cancel()
		if err != nil {
			return err
		}
		s.Log.Info("outbox relay", "db", d.URL, "kafka", kafkaclient.Describe(cfg.Kafka))
		r, err := outbox.New(ctx, d, cl, outbox.Options{
			Workers: oc.Workers, BatchSize: oc.BatchSize, Compact: oc.CompactTopics,
			Once: s.Once, Logger: s.Log, Metrics: m, Progress: h,
			OnStatus: func(sts []outbox.TopicStatus) {
				wait := 0.0
				for _, st := range sts {
					wait = max(wait, st.MaxWaitSeconds)
				}
				h.SetLag(wait, "seconds") // the oldest pending row's wait
			},
		})
		if err != nil {
			return err
		}
		h.Started()
		start := time.Now()
		sum, err := r.Run(ctx)
		if s.OnSummary != nil {
			s.OnSummary(sum, time.Since(start))
		}
		return err
	}}
}
