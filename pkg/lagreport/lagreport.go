// Package lagreport is a consumer's lag reporter, as Deimos's: every
// interval it reads the group's committed offsets and the partitions' end
// offsets (admin.Lags, the same figures `deimos lag` and `group describe`
// print) and exports deimos_consumer_lag{group,topic,partition}.
package lagreport

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/deimos-cli/deimos/pkg/admin"
)

// Metric is the gauge's name.
const Metric = "deimos_consumer_lag"

// Gauge is deimos_consumer_lag; a nil *Gauge records nothing.
type Gauge struct {
	v *prometheus.GaugeVec
	// shown are the label sets set by the last report, so partitions the
	// group no longer has are removed.
	shown map[[3]string]bool
}

// NewGauge registers the gauge with reg.
func NewGauge(reg prometheus.Registerer) *Gauge {
	v := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: Metric,
		Help: "Messages a consumer group is behind per partition: end offset (high watermark) minus committed offset."},
		[]string{"group", "topic", "partition"})
	reg.MustRegister(v)
	return &Gauge{v: v, shown: map[[3]string]bool{}}
}

// Set records one report of the group.
func (g *Gauge) Set(l admin.GroupLag) {
	if g == nil {
		return
	}
	now := map[[3]string]bool{}
	for _, p := range l.Partitions {
		if p.Lag < 0 {
			continue // unknown (an error reading the offsets)
		}
		k := [3]string{l.Group, p.Topic, strconv.Itoa(int(p.Partition))}
		g.v.WithLabelValues(k[:]...).Set(float64(p.Lag))
		now[k] = true
	}
	for k := range g.shown {
		if !now[k] {
			g.v.DeleteLabelValues(k[:]...)
		}
	}
	g.shown = now
}

// Options configure Run.
type Options struct {
	Group string
	Every time.Duration // default 15s
	Gauge *Gauge        // optional
	// OnReport is told each report (optional): the job's status shows it.
	OnReport func(admin.GroupLag)
	Logger   *slog.Logger
}

// Run reports until ctx ends: once at once, then every o.Every.
func Run(ctx context.Context, adm *kadm.Client, o Options) {
	if o.Every <= 0 {
		o.Every = 15 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	t := time.NewTicker(o.Every)
	defer t.Stop()
	for {
		if err := Report(ctx, adm, o); err != nil && ctx.Err() == nil {
			o.Logger.Warn("consumer lag: cannot read the group's offsets", "group", o.Group, "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Report reads the group's lag once and records it.
func Report(ctx context.Context, adm *kadm.Client, o Options) error {
	rctx, cancel := context.WithTimeout(ctx, max(o.Every, 5*time.Second))
	defer cancel()
	ls, err := admin.Lags(rctx, adm, o.Group)
	if err != nil {
		return err
	}
	for _, l := range ls {
		if l.Group != o.Group {
			continue
		}
		if errors.Is(l.Err, kerr.GroupIDNotFound) {
			return nil // nothing committed yet: no lag to report
		}
		if l.Err != nil {
			return fmt.Errorf("group %s: %w", o.Group, l.Err)
		}
		o.Gauge.Set(l)
		if o.OnReport != nil {
			o.OnReport(l)
		}
	}
	return nil
}
