package poller

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the poller's Prometheus metrics. A nil *Metrics records nothing.
type Metrics struct {
	rows, batches, errored, kafkaErrors *prometheus.CounterVec
	lag, lastRun                        *prometheus.GaugeVec
}

// NewMetrics registers the metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		rows:        prometheus.NewCounterVec(prometheus.CounterOpts{Name: "deimos_poller_rows_published_total", Help: "Rows published (or written to the outbox)."}, []string{"poller"}),
		batches:     prometheus.NewCounterVec(prometheus.CounterOpts{Name: "deimos_poller_batches_total", Help: "Batches processed."}, []string{"poller"}),
		errored:     prometheus.NewCounterVec(prometheus.CounterOpts{Name: "deimos_poller_batches_errored_total", Help: "Batches given up on (retries exceeded or too large)."}, []string{"poller"}),
		kafkaErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "deimos_poller_kafka_errors_total", Help: "Kafka delivery failures (retried)."}, []string{"poller"}),
		lag:         prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "deimos_poller_lag_seconds", Help: "How far the poll's upper bound (cursor after an empty poll) is behind now."}, []string{"poller"}),
		lastRun:     prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "deimos_poller_last_run_timestamp_seconds", Help: "Unix time of the last completed run."}, []string{"poller"}),
	}
	reg.MustRegister(m.rows, m.batches, m.errored, m.kafkaErrors, m.lag, m.lastRun)
	return m
}

func (m *Metrics) published(p string, n int) {
	if m != nil {
		m.rows.WithLabelValues(p).Add(float64(n))
	}
}

func (m *Metrics) erroredBatch(p string) {
	if m != nil {
		m.errored.WithLabelValues(p).Inc()
	}
}

func (m *Metrics) kafkaError(p string) {
	if m != nil {
		m.kafkaErrors.WithLabelValues(p).Inc()
	}
}

func (m *Metrics) observeRun(p string, st RunStats) {
	if m == nil {
		return
	}
	m.batches.WithLabelValues(p).Add(float64(st.Batches))
	if st.Err == nil {
		m.lastRun.WithLabelValues(p).SetToCurrentTime()
		if !st.To.IsZero() {
			m.lag.WithLabelValues(p).Set(timeSince(st.To).Seconds())
		}
	}
}

// register makes every series of poller p exist (at 0) from the start, so
// dashboards and alerts see them before the first error.
func (m *Metrics) register(p string) {
	if m == nil {
		return
	}
	m.rows.WithLabelValues(p)
	m.batches.WithLabelValues(p)
	m.errored.WithLabelValues(p)
	m.kafkaErrors.WithLabelValues(p)
}
