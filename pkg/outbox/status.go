package outbox

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/deimos-cli/deimos/pkg/db"
)

// TopicStatus is one topic's outbox state.
type TopicStatus struct {
	Topic string `json:"topic"`
	// Pending rows in kafka_messages.
	Pending int64 `json:"pending"`
	// OldestCreatedAt is MIN(created_at) of the pending rows (UTC).
	OldestCreatedAt *time.Time `json:"oldest_created_at,omitempty"`
	// OldestAgeSeconds is now - OldestCreatedAt (0 when nothing is pending).
	OldestAgeSeconds float64 `json:"oldest_age_seconds"`
	// MaxWaitSeconds is Deimos's pending_db_messages_max_wait (docs/deimos-compat.md §2.7).
	MaxWaitSeconds  float64    `json:"max_wait_seconds"`
	LockedBy        string     `json:"locked_by,omitempty"`
	LockedAt        *time.Time `json:"locked_at,omitempty"`
	Error           bool       `json:"error"`
	Retries         int64      `json:"retries"`
	LastProcessedAt *time.Time `json:"last_processed_at,omitempty"`
	DeadLetters     int64      `json:"dead_letters"`
	// Known: the topic has a kafka_topic_info row.
	Known bool `json:"known"`
}

// Status reports every topic that has pending rows, a kafka_topic_info row
// or dead letters, sorted by name.
func Status(ctx context.Context, d *db.DB, now time.Time) ([]TopicStatus, error) {
	st, err := newStore(ctx, d)
	if err != nil {
		return nil, err
	}
	return st.status(ctx, now)
}

func (s *store) status(ctx context.Context, now time.Time) ([]TopicStatus, error) {
	now = now.UTC()
	by := map[string]*TopicStatus{}
	get := func(t string) *TopicStatus {
		if x, ok := by[t]; ok {
			return x
		}
		x := &TopicStatus{Topic: t}
		by[t] = x
		return x
	}
	rows, err := s.d.QueryContext(ctx, "SELECT topic, COUNT(*), MIN(created_at) FROM kafka_messages GROUP BY topic")
	if err != nil {
		return nil, fmt.Errorf("reading kafka_messages: %w", err)
	}
	for rows.Next() {
		var t string
		var n int64
		var mn any
		if err := rows.Scan(&t, &n, &mn); err != nil {
			rows.Close()
			return nil, err
		}
		x := get(t)
		x.Pending = n
		if ts := parseDBTime(mn); !ts.IsZero() {
			x.OldestCreatedAt = &ts
			x.OldestAgeSeconds = now.Sub(ts).Seconds()
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	infos, err := s.topicInfo(ctx)
	if err != nil {
		return nil, err
	}
	for _, in := range infos {
		x := get(in.Topic)
		x.Known, x.LockedBy, x.Error, x.Retries, x.LockedAt, x.LastProcessedAt = true, in.LockedBy, in.Error, in.Retries, in.LockedAt, in.LastProcessedAt
	}
	if s.hasDeadLetters {
		rows, err = s.d.QueryContext(ctx, "SELECT topic, COUNT(*) FROM deimos_dead_letters GROUP BY topic")
		if err != nil {
			return nil, fmt.Errorf("reading deimos_dead_letters: %w", err)
		}
		for rows.Next() {
			var t string
			var n int64
			if err := rows.Scan(&t, &n); err != nil {
				rows.Close()
				return nil, err
			}
			get(t).DeadLetters = n
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	out := make([]TopicStatus, 0, len(by))
	for _, x := range by {
		// pending_db_messages_max_wait: now - max(last_processed_at, oldest created_at).
		if x.Pending > 0 && x.OldestCreatedAt != nil {
			ref := *x.OldestCreatedAt
			if x.LastProcessedAt != nil && x.LastProcessedAt.After(ref) {
				ref = *x.LastProcessedAt
			}
			x.MaxWaitSeconds = now.Sub(ref).Seconds()
		}
		out = append(out, *x)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Topic < out[j].Topic })
	return out, nil
}

// topicInfo reads kafka_topic_info: the rows of TopicStatus it fills
// (Topic, Known, LockedBy, LockedAt, Error, Retries, LastProcessedAt).
func (s *store) topicInfo(ctx context.Context) ([]TopicStatus, error) {
	q := "SELECT topic, locked_by, locked_at, error, retries"
	if s.hasLastProcessed {
		q += ", last_processed_at"
	}
	rows, err := s.d.QueryContext(ctx, q+" FROM kafka_topic_info")
	if err != nil {
		return nil, fmt.Errorf("reading kafka_topic_info: %w", err)
	}
	defer rows.Close()
	var out []TopicStatus
	for rows.Next() {
		x := TopicStatus{Known: true}
		var lockedBy sql.NullString
		var at, lp any
		dst := []any{&x.Topic, &lockedBy, &at, &x.Error, &x.Retries}
		if s.hasLastProcessed {
			dst = append(dst, &lp)
		}
		if err := rows.Scan(dst...); err != nil {
			return nil, err
		}
		x.LockedBy = lockedBy.String
		if ts := parseDBTime(at); !ts.IsZero() {
			x.LockedAt = &ts
		}
		if ts := parseDBTime(lp); !ts.IsZero() {
			x.LastProcessedAt = &ts
		}
		out = append(out, x)
	}
	return out, rows.Err()
}

// pending counts a topic's rows in kafka_messages (an index range scan).
func (s *store) pending(ctx context.Context, topic string) (int64, error) {
	var n int64
	err := s.d.QueryRowContext(ctx, s.d.Rebind("SELECT COUNT(*) FROM kafka_messages WHERE topic = ?"), topic).Scan(&n)
	return n, err
}

// Metrics are the relay's Prometheus metrics.
type Metrics struct {
	maxWait      *prometheus.GaugeVec
	count        *prometheus.GaugeVec
	deadLetters  *prometheus.GaugeVec
	processed    *prometheus.CounterVec
	published    *prometheus.CounterVec
	deadLettered *prometheus.CounterVec
	errors       *prometheus.CounterVec
	dbErrors     prometheus.Counter
	batchSeconds *prometheus.HistogramVec
}

// NewMetrics registers the metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		maxWait: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "pending_db_messages_max_wait",
			Help: "Seconds the oldest pending outbox row has waited: now - max(last_processed_at, oldest created_at); 0 when none (Deimos)."}, []string{"topic"}),
		count: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "pending_db_messages_count",
			Help: "Rows pending in kafka_messages (Deimos)."}, []string{"topic"}),
		deadLetters: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "deimos_dead_letters",
			Help: "Rows in deimos_dead_letters (messages Kafka refused), per topic."}, []string{"topic"}),
		processed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "outbox_process_total",
			Help: "Rows fetched and deleted from kafka_messages (uncompacted; Deimos outbox.process)."}, []string{"topic"}),
		published: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "outbox_published_total",
			Help: "Records acknowledged by Kafka."}, []string{"topic"}),
		deadLettered: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "outbox_dead_lettered_total",
			Help: "Rows Kafka rejected as too large, moved to deimos_dead_letters."}, []string{"topic"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "outbox_errors_total",
			Help: "Publish attempts that failed and topics that errored."}, []string{"topic"}),
		dbErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "outbox_db_errors_total",
			Help: "Transient database errors (dropped connections, lock waits) that were retried."}),
		batchSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "outbox_batch_duration_seconds",
			Help: "Time to fetch, send and delete one batch.", Buckets: prometheus.ExponentialBuckets(0.005, 2, 14)}, []string{"topic"}),
	}
	reg.MustRegister(m.maxWait, m.count, m.deadLetters, m.processed, m.published, m.deadLettered, m.errors, m.dbErrors, m.batchSeconds)
	return m
}

func (r *Relay) metricsLoop(ctx context.Context) {
	r.refreshMetrics(ctx)
	t := time.NewTicker(r.opts.MetricsEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			r.refreshMetrics(ctx)
		}
	}
}

func (r *Relay) refreshMetrics(ctx context.Context) {
	sts, err := r.st.status(ctx, r.opts.Now())
	if err != nil {
		if ctx.Err() == nil {
			r.opts.Logger.Warn("could not compute pending metrics", "error", err)
		}
		return
	}
	if r.opts.OnStatus != nil {
		r.opts.OnStatus(sts)
	}
	m := r.opts.Metrics
	for _, s := range sts {
		m.maxWait.WithLabelValues(s.Topic).Set(s.MaxWaitSeconds)
		m.count.WithLabelValues(s.Topic).Set(float64(s.Pending))
		m.deadLetters.WithLabelValues(s.Topic).Set(float64(s.DeadLetters))
	}
}
