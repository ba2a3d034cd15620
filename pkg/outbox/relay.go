package outbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/deimos-cli/deimos/pkg/config"
	"github.com/deimos-cli/deimos/pkg/db"
	"github.com/deimos-cli/deimos/pkg/errs"
	"github.com/deimos-cli/deimos/pkg/human"
	"github.com/deimos-cli/deimos/pkg/kafkaclient"
	"github.com/deimos-cli/deimos/pkg/progress"
	"github.com/deimos-cli/deimos/pkg/tuplekey"
)

// Producer sends records and waits for every acknowledgement; *kgo.Client is one.
type Producer interface {
	ProduceSync(ctx context.Context, rs ...*kgo.Record) kgo.ProduceResults
}

// Options configure a Relay. Zero values take the Deimos defaults.
type Options struct {
	Workers   int               // goroutines, each with its own lock id (default 1)
	BatchSize int               // rows fetched per batch (default 1000)
	Compact   config.TopicMatch // compact_topics: a list, or all
	// Once drains until every topic is empty or locked elsewhere, then returns.
	Once bool
	// PassInterval is the sleep between passes in daemon mode (default 0.5 s).
	PassInterval time.Duration
	// HeartbeatEvery refreshes locked_at while a batch is in flight (default 15 s).
	HeartbeatEvery time.Duration
	// HeartbeatAfter: between two batches of a topic, locked_at is
	// refreshed only once it was last written (lock or heartbeat) this long
	// ago (default LockWindow/12, 5 s; Deimos refreshes it after every
	// batch). Either way it stays far younger than LockWindow.
	HeartbeatAfter time.Duration
	// MaxBackoff caps the back-off between Kafka retries and database retries (default 30 s).
	MaxBackoff time.Duration
	// OnceAttempts is how many times a batch is tried against Kafka in --once
	// mode before the topic is errored (default 5). Daemon mode retries forever.
	OnceAttempts int
	// MetricsEvery is how often the pending_db_messages gauges are refreshed (default 10 s).
	MetricsEvery time.Duration
	Logger       *slog.Logger
	Metrics      *Metrics // optional
	// Progress hears each finished batch and pass, and when every worker
	// waits between passes or after an error (optional).
	Progress progress.Reporter
	// OnStatus is told each topic's status whenever the metrics are
	// refreshed (optional; needs Metrics).
	OnStatus func([]TopicStatus)
	Now      func() time.Time
}

func (o *Options) defaults() {
	if o.Workers <= 0 {
		o.Workers = 1
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 1000
	}
	if o.PassInterval <= 0 {
		o.PassInterval = 500 * time.Millisecond
	}
	if o.HeartbeatEvery <= 0 {
		o.HeartbeatEvery = 15 * time.Second
	}
	if o.HeartbeatAfter <= 0 {
		o.HeartbeatAfter = LockWindow / 12
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 30 * time.Second
	}
	if o.OnceAttempts <= 0 {
		o.OnceAttempts = 5
	}
	if o.MetricsEvery <= 0 {
		o.MetricsEvery = 10 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	o.Progress = progress.Or(o.Progress)
}

// Summary counts what a Run did.
type Summary struct {
	Processed    int64    `json:"processed"`     // rows fetched and deleted
	Published    int64    `json:"published"`     // records acknowledged by Kafka
	DeadLettered int64    `json:"dead_lettered"` // rows moved to deimos_dead_letters
	FailedTopics []string `json:"failed_topics,omitempty"`
	// Locked lists, after a --once run, the topics whose rows are still
	// waiting because another relay holds their lock, or because they rest
	// after an error (never nil, so JSON shows []).
	Locked []LockedTopic `json:"locked_topics"`
}

// LockedTopic is a topic a --once run could not drain: its kafka_topic_info
// lock is fresh (younger than LockWindow) and not this run's.
type LockedTopic struct {
	Topic   string `json:"topic"`
	Pending int64  `json:"pending"`
	// LockedBy is the lock id of the relay holding the topic; empty when the
	// topic rests after an error (Errored).
	LockedBy string    `json:"locked_by,omitempty"`
	LockedAt time.Time `json:"locked_at"`
	// LockAgeSeconds is how long ago the lock was taken or last heartbeated.
	LockAgeSeconds float64 `json:"lock_age_seconds"`
	// Errored: kafka_topic_info.error is set; any relay retries the topic
	// once the lock is LockWindow old.
	Errored bool `json:"errored"`
}

func (l LockedTopic) String() string {
	age := human.Seconds(l.LockAgeSeconds)
	if l.LockedBy == "" {
		return fmt.Sprintf("%s (%d pending, errored %s ago, retried after %s)", l.Topic, l.Pending, age, human.Duration(LockWindow))
	}
	return fmt.Sprintf("%s (%d pending, locked by %s %s ago)", l.Topic, l.Pending, l.LockedBy, age)
}

// Relay moves kafka_messages rows to Kafka, as Deimos's OutboxProducer does.
type Relay struct {
	st   *store
	p    Producer
	opts Options

	processed, published, dead atomic.Int64
	mu                         sync.Mutex
	failed                     map[string]string
	ids                        map[string]bool    // this run's lock ids
	idle                       map[*worker]string // waiting workers and why (parked: for a topic)
	dispatchWait               string             // why the dispatcher waits ("": it is listing)
}

// New checks the tables and returns a relay.
func New(ctx context.Context, d *db.DB, p Producer, opts Options) (*Relay, error) {
	opts.defaults()
	st, err := newStore(ctx, d)
	if err != nil {
		return nil, errs.Failed(err)
	}
	if !st.hasDeadLetters {
		opts.Logger.Warn("dead-letter table deimos_dead_letters is absent: a message Kafka rejects as too large will block its topic (run `deimos migrate up --only deadletter`)")
	}
	return &Relay{st: st, p: p, opts: opts, failed: map[string]string{}, ids: map[string]bool{}, idle: map[*worker]string{}}, nil
}

var errStopped = errors.New("stopped")

// Run runs the workers until ctx is cancelled (daemon) or, with Once, until
// there is nothing left to do. Cancelling ctx lets each worker finish its
// in-flight batch and release its lock. With Once, an errored topic makes the
// result an errs.Failed error.
func (r *Relay) Run(ctx context.Context) (Summary, error) {
	log := r.opts.Logger
	log.Info("Starting...", "workers", r.opts.Workers, "batch_size", r.opts.BatchSize, "once", r.opts.Once, "procs", runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	mctx, stopMetrics := context.WithCancel(ctx)
	defer stopMetrics()
	if r.opts.Metrics != nil {
		wg.Add(1)
		go func() { defer wg.Done(); r.metricsLoop(mctx) }()
	}
	work := make(chan string)
	results := make(chan result, r.opts.Workers)
	var workers sync.WaitGroup
	for i := 0; i < r.opts.Workers; i++ {
		w := &worker{r: r, id: uuid.NewString()}
		w.log = log.With("worker", w.id)
		r.ids[w.id] = true
		workers.Add(1)
		go func() {
			defer workers.Done()
			w.run(ctx, work, results)
		}()
	}
	fatal := r.dispatch(ctx, work, results)
	workers.Wait()
	stopMetrics()
	wg.Wait()
	if r.opts.Metrics != nil {
		r.refreshMetrics(context.WithoutCancel(ctx))
	}
	s := Summary{Processed: r.processed.Load(), Published: r.published.Load(), DeadLettered: r.dead.Load()}
	r.mu.Lock()
	for t := range r.failed {
		s.FailedTopics = append(s.FailedTopics, t)
	}
	r.mu.Unlock()
	sort.Strings(s.FailedTopics)
	s.Locked = []LockedTopic{}
	if ctx.Err() != nil {
		log.Info("Shutting down", "processed", s.Processed, "published", s.Published)
	}
	if fatal != nil {
		return s, fatal
	}
	if r.opts.Once && ctx.Err() == nil {
		w := &worker{r: r, log: log}
		var locked []LockedTopic
		err := w.dbRetry(ctx, "checking locks", func() (err error) { locked, err = r.lockedElsewhere(context.WithoutCancel(ctx)); return err })
		if err != nil {
			return s, errs.Failedf("outbox: checking for topics locked by other relays: %w", err)
		}
		s.Locked = locked
		for _, l := range locked {
			log.Warn("rows left waiting: topic locked elsewhere", "topic", l.Topic, "pending", l.Pending, "locked_by", l.LockedBy, "lock_age_seconds", int64(l.LockAgeSeconds), "errored", l.Errored)
		}
	}
	if len(s.FailedTopics) > 0 {
		var parts []string
		for _, t := range s.FailedTopics {
			parts = append(parts, t+": "+r.failed[t])
		}
		return s, errs.Failedf("outbox: %d topic(s) failed: %s", len(parts), strings.Join(parts, "; "))
	}
	return s, nil
}

// lockedElsewhere lists the topics with pending rows that no relay of this
// run may lock now: a fresh lock held by another lock id, or a fresh error
// rest (Deimos's lock condition) that this run did not cause.
func (r *Relay) lockedElsewhere(ctx context.Context) ([]LockedTopic, error) {
	now := r.opts.Now().UTC()
	// kafka_topic_info first (one row per topic), then the pending rows of
	// the few topics locked elsewhere: no scan of a whole, freshly drained
	// kafka_messages at the end of every run.
	infos, err := r.st.topicInfo(ctx)
	if err != nil {
		return nil, err
	}
	out := []LockedTopic{}
	for _, st := range infos {
		if st.LockedAt == nil || r.ids[st.LockedBy] {
			continue
		}
		age := now.Sub(*st.LockedAt)
		if age >= LockWindow {
			continue // stale: the next run takes it
		}
		r.mu.Lock()
		ours := r.failed[st.Topic] != ""
		r.mu.Unlock()
		if st.LockedBy == "" && (!st.Error || ours) {
			continue // not locked, or errored in this run (reported as failed)
		}
		n, err := r.st.pending(ctx, st.Topic)
		if err != nil {
			return nil, err
		}
		if n == 0 {
			continue
		}
		out = append(out, LockedTopic{Topic: st.Topic, Pending: n, LockedBy: st.LockedBy, LockedAt: *st.LockedAt,
			LockAgeSeconds: max(age.Seconds(), 0), Errored: st.LockedBy == ""})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Topic < out[j].Topic })
	return out, nil
}

func (r *Relay) topicFailed(topic string, err error) {
	r.mu.Lock()
	r.failed[topic] = err.Error()
	r.mu.Unlock()
	if r.opts.Metrics != nil {
		r.opts.Metrics.errors.WithLabelValues(topic).Inc()
	}
}

type worker struct {
	r   *Relay
	id  string
	log *slog.Logger
	// failedSend: an attempt of the current batch's send failed (the
	// producer may have held its records longer than the acknowledgement).
	failedSend bool
}

// waiting tells the Progress reporter this worker waits (reason) or is
// busy again (""): the relay is idle only while every worker waits, for a
// topic (parked) or for a reason, and the dispatcher is not listing.
func (w *worker) waiting(reason string) {
	r := w.r
	r.mu.Lock()
	defer r.mu.Unlock()
	if reason == "" {
		delete(r.idle, w)
	} else {
		r.idle[w] = reason
	}
	r.reportIdleLocked()
}

// reportIdleLocked (r.mu held) tells the Progress reporter whether the
// relay is idle, and why: a sleeping worker's reason, else the
// dispatcher's (waiting for the next pass, or backing off).
func (r *Relay) reportIdleLocked() {
	if len(r.idle) != r.opts.Workers || r.dispatchWait == "" {
		r.opts.Progress.Idle("")
		return
	}
	reason := r.dispatchWait
	for _, why := range r.idle {
		if why != parked {
			reason = why
			break
		}
	}
	r.opts.Progress.Idle(reason)
}

// sleep is db.SleepCtx (true: slept; false: ctx ended), reported as waiting for reason.
func (w *worker) sleep(ctx context.Context, d time.Duration, reason string) bool {
	w.waiting(reason)
	defer w.waiting("")
	return db.SleepCtx(ctx, d) == nil
}

// dbAttempts bounds how often one database operation is tried when the error
// is transient (a dropped connection: the pool dials a new one).
const dbAttempts = 6

// dbRetry runs fn, retrying transient database errors with capped back-off
// (0.2 s, 0.4 s, ... up to 3.2 s: about 6 s in all), so a restarted database or
// a killed connection costs a pause, not a topic error. The sleeps ignore ctx:
// a stop request still lets the in-flight batch finish and unlock.
func (w *worker) dbRetry(ctx context.Context, what string, fn func() error) error {
	return db.Retry(context.WithoutCancel(ctx), db.Backoff{Attempts: dbAttempts, Wait: 200 * time.Millisecond, MaxWait: 3200 * time.Millisecond}, fn,
		func(err error, attempt int, wait time.Duration) {
			w.log.Warn("database error, reconnecting", "op", what, "error", err, "attempt", attempt, "retry_in", wait.String())
			if m := w.r.opts.Metrics; m != nil {
				m.dbErrors.Inc()
			}
		})
}

// processTopic locks a topic, drains it batch by batch, and unlocks it.
// A returned error is a database error outside the topic's own processing.
// drained is the last id of a topic this call emptied (a short batch ended
// it, every row up to that id deleted), else -1.
func (w *worker) processTopic(ctx context.Context, topic string) (n int, drained int64, err error) {
	drained = -1
	n, err = w.drainTopic(ctx, topic, &drained)
	return n, drained, err
}

func (w *worker) drainTopic(ctx context.Context, topic string, drained *int64) (int, error) {
	o := w.r.opts
	bg := context.WithoutCancel(ctx)
	var ok bool
	err := w.dbRetry(ctx, "lock "+topic, func() (err error) { ok, err = w.r.st.lock(bg, topic, w.id, o.Now()); return err })
	if err != nil {
		return 0, err
	}
	if !ok {
		w.log.Debug("Could not lock topic " + topic + " - continuing")
		return 0, nil
	}
	// Heartbeat while a batch is in flight (docs/deimos-compat.md §2.8), so a slow Kafka does not let the lock go stale.
	hbCtx, stopHB := context.WithCancel(bg)
	var lost atomic.Bool
	// beat is when locked_at was last written (the lock, a heartbeat), as
	// time since locked: the heartbeat between batches is skipped while it
	// is younger than HeartbeatAfter.
	locked := time.Now()
	var beat atomic.Int64
	var hbWG sync.WaitGroup
	hbWG.Add(1)
	go func() {
		defer hbWG.Done()
		t := time.NewTicker(o.HeartbeatEvery)
		defer t.Stop()
		for {
			select {
			case <-hbCtx.Done():
				return
			case <-t.C:
				at := time.Since(locked)
				if held, err := w.r.st.heartbeat(hbCtx, topic, w.id, o.Now()); err != nil {
					w.log.Warn("heartbeat failed", "topic", topic, "error", err)
				} else if !held {
					lost.Store(true)
				} else {
					beat.Store(int64(at))
				}
			}
		}
	}()
	defer func() { stopHB(); hbWG.Wait() }()

	total := 0
	lastID, short := int64(-1), false // the last id handled; whether the last fetch came back short
	var msgs []Message
	sl := &slab{pooled: true}
	err = w.dbRetry(ctx, "fetch "+topic, func() (err error) { msgs, err = w.r.st.fetchInto(bg, topic, -1, o.BatchSize, sl); return err })
	if err != nil {
		err = fmt.Errorf("fetching: %w", err)
	}
	for err == nil && len(msgs) > 0 {
		full := len(msgs) >= o.BatchSize
		// Fetch the next batch while this one is sent (rows after this
		// batch's last id); on PostgreSQL its rows are read once this
		// batch is sent and deleted (sent).
		var next chan fetched
		var sent chan struct{}
		if full && ctx.Err() == nil {
			next = make(chan fetched, 1)
			sent = make(chan struct{})
			after := msgs[len(msgs)-1].ID
			go func() {
				var m []Message
				nsl := &slab{pooled: true, readAfter: sent}
				err := w.dbRetry(ctx, "fetch "+topic, func() (err error) { m, err = w.r.st.fetchInto(bg, topic, after, o.BatchSize, nsl); return err })
				next <- fetched{m, nsl, err}
			}()
		}
		var n int
		w.failedSend = false
		n, err = w.processBatch(ctx, topic, msgs)
		if sent != nil {
			close(sent)
		}
		total += n
		if err == nil {
			lastID, short = msgs[len(msgs)-1].ID, !full
			if !w.failedSend {
				// Acknowledged at the first attempt and deleted: nothing
				// refers to the batch's values now. (After a failed
				// attempt the buffers are left to the collector.)
				sl.release()
			}
		}
		if next != nil && (err != nil || lost.Load() || ctx.Err() != nil) {
			<-next
			next = nil
		}
		if err != nil || lost.Load() || next == nil {
			break
		}
		if at := time.Since(locked); at-time.Duration(beat.Load()) >= o.HeartbeatAfter {
			var held bool
			if herr := w.dbRetry(ctx, "heartbeat "+topic, func() (err error) { held, err = w.r.st.heartbeat(bg, topic, w.id, o.Now()); return err }); herr != nil {
				w.log.Warn("heartbeat failed", "topic", topic, "error", herr)
			} else if !held {
				lost.Store(true)
				<-next
				break
			} else {
				beat.Store(int64(at))
			}
		}
		f := <-next
		msgs, sl, err = f.msgs, f.sl, f.err
		if err != nil {
			err = fmt.Errorf("fetching: %w", err)
		}
		short = err == nil && len(msgs) == 0
	}
	if err == nil && short && lastID >= 0 && !lost.Load() && ctx.Err() == nil {
		*drained = lastID
	}
	if errors.Is(err, errStopped) {
		err = nil
	}
	if err != nil {
		w.log.Error("Error processing messages for topic "+topic, "error", err)
		w.r.topicFailed(topic, err)
		if rerr := w.dbRetry(ctx, "register error "+topic, func() error { return w.r.st.registerError(bg, topic, w.id, o.Now()) }); rerr != nil {
			w.log.Error("could not record the topic error", "topic", topic, "error", rerr)
		}
		return total, nil
	}
	if lost.Load() {
		w.log.Warn("lock on "+topic+" was taken by another relay; leaving the topic", "topic", topic)
		return total, nil
	}
	if err := w.dbRetry(ctx, "unlock "+topic, func() error { return w.r.st.clearLock(bg, topic, w.id, o.Now()) }); err != nil {
		w.log.Error("could not release lock", "topic", topic, "error", err)
		*drained = -1
	}
	return total, nil
}

type fetched struct {
	msgs []Message
	sl   *slab
	err  error
}

// processBatch compacts, sends and deletes one fetched batch.
func (w *worker) processBatch(ctx context.Context, topic string, msgs []Message) (n int, err error) {
	o := w.r.opts
	bg := context.WithoutCancel(ctx)
	start := time.Now()
	batch := msgs
	if o.Compact.Match(topic) {
		batch = Compact(msgs)
	}
	w.log.Debug(fmt.Sprintf("Publishing %d messages to %s", len(batch), topic))
	dead, err := w.send(ctx, topic, batch)
	if err != nil {
		return 0, err
	}
	ids := make([]int64, 0, len(msgs))
	if missing := w.r.st.deadLetterGap(dead); missing != "" {
		// Never drop data: keep the rejected rows, delete what Kafka accepted.
		keep := map[int64]bool{}
		for _, d := range dead {
			keep[d.Msg.ID] = true
		}
		for _, m := range msgs {
			if !keep[m.ID] {
				ids = append(ids, m.ID)
			}
		}
		if err := w.r.st.finish(bg, topic, ids, nil, o.Now()); err != nil {
			return 0, fmt.Errorf("deleting sent rows: %w", err)
		}
		w.r.processed.Add(int64(len(ids)))
		return len(ids), fmt.Errorf("%d message(s) rejected by Kafka (%s) and %s: rows kept, topic blocked; run `deimos migrate up --only deadletter`", len(dead), dead[0].Err, missing)
	}
	for _, m := range msgs {
		ids = append(ids, m.ID)
	}
	if err := w.r.st.finish(bg, topic, ids, dead, o.Now()); err != nil {
		return 0, fmt.Errorf("deleting sent rows: %w", err)
	}
	for _, d := range dead {
		w.log.Error("Message too large: moved to deimos_dead_letters", "topic", topic, "id", d.Msg.ID, "bytes", len(d.Msg.Message), "error", d.Err)
	}
	sent := int64(len(batch) - len(dead))
	w.r.processed.Add(int64(len(msgs)))
	w.r.published.Add(sent)
	w.r.dead.Add(int64(len(dead)))
	if m := o.Metrics; m != nil {
		m.processed.WithLabelValues(topic).Add(float64(len(msgs)))
		m.published.WithLabelValues(topic).Add(float64(sent))
		m.deadLettered.WithLabelValues(topic).Add(float64(len(dead)))
		m.batchSeconds.WithLabelValues(topic).Observe(time.Since(start).Seconds())
	}
	o.Progress.Progress()
	w.log.Info(fmt.Sprintf("Sent %d messages to %s", sent, topic), "fetched", len(msgs), "dead_lettered", len(dead), "ms", time.Since(start).Milliseconds())
	return len(msgs), nil
}

// IsTooLarge reports a Kafka error that no retry can fix: the message (or its
// batch) exceeds a size limit.
func IsTooLarge(err error) bool {
	return errors.Is(err, kerr.MessageTooLarge) || errors.Is(err, kerr.RecordListTooLarge) || errors.Is(err, kerr.InvalidRecord)
}

// records builds the batch's records once, in two allocations (records
// and partition-key contexts) whatever its size. A row whose headers
// column cannot be read has no record (nil) and its error in errs.
func records(ctx context.Context, batch []Message) (recs []*kgo.Record, errs []error) {
	slab := make([]kgo.Record, len(batch))
	recs = make([]*kgo.Record, len(batch))
	npk := 0
	for _, m := range batch {
		if m.PartitionKey != nil {
			npk++
		}
	}
	pks := make([]kafkaclient.PartitionKeyContext, 0, npk)
	for i, m := range batch {
		rec := &slab[i]
		rec.Topic, rec.Key, rec.Value, rec.Context = m.Topic, m.Key, m.Message, ctx
		if m.PartitionKey != nil {
			pks = append(pks, kafkaclient.PartitionKeyContext{Context: ctx, Key: unsafe.Slice(unsafe.StringData(*m.PartitionKey), len(*m.PartitionKey))})
			rec.Context = &pks[len(pks)-1]
		}
		if len(m.Headers) > 0 {
			var h map[string]string
			if err := json.Unmarshal(m.Headers, &h); err != nil {
				if errs == nil {
					errs = make([]error, len(batch))
				}
				errs[i] = fmt.Errorf("headers column is not a JSON object of strings: %w", err)
				continue
			}
			keys := make([]string, 0, len(h))
			for k := range h {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				rec.Headers = append(rec.Headers, kgo.RecordHeader{Key: k, Value: []byte(h[k])})
			}
		}
		recs[i] = rec
	}
	return recs, errs
}

// send produces the batch and waits for every ack. Too-large rejections are
// retried one record at a time (a broker rejects a whole produce batch) and
// what still fails is returned as dead letters. Other errors are retried with
// capped exponential back-off (forever in daemon mode, OnceAttempts with
// Once); a stop request while failing returns errStopped with nothing deleted.
// Each record is built once and sent again as it is on a retry.
func (w *worker) send(ctx context.Context, topic string, batch []Message) ([]DeadLetter, error) {
	o := w.r.opts
	bg := context.WithoutCancel(ctx)
	var dead []DeadLetter
	all, bad := records(bg, batch)
	pending := make([]int, 0, len(batch))
	for i := range batch {
		if bad != nil && bad[i] != nil {
			dead = append(dead, DeadLetter{Msg: batch[i], Err: bad[i].Error()})
			continue
		}
		pending = append(pending, i)
	}
	recs := make([]*kgo.Record, 0, len(pending))
	backoff := time.Second
	for attempt := 1; ; attempt++ {
		recs = recs[:0]
		for _, i := range pending {
			// A new attempt is stamped anew: the client times a record
			// out by its Timestamp (RecordDeliveryTimeout).
			all[i].Timestamp = time.Time{}
			recs = append(recs, all[i])
		}
		results := w.r.p.ProduceSync(bg, recs...)
		var retry, tooLarge []int
		var firstErr error
		var index map[*kgo.Record]int // a result's row: results come in completion order
		for _, res := range results {
			if res.Err == nil {
				continue
			}
			w.failedSend = true
			if index == nil {
				index = make(map[*kgo.Record]int, len(pending))
				for _, i := range pending {
					index[all[i]] = i
				}
			}
			i, ok := index[res.Record]
			if !ok {
				return nil, fmt.Errorf("the producer reported a result for a record it was not given: %w", res.Err)
			}
			if IsTooLarge(res.Err) {
				tooLarge = append(tooLarge, i)
			} else {
				retry = append(retry, i)
				if firstErr == nil {
					firstErr = res.Err
				}
			}
		}
		sort.Ints(tooLarge)
		for _, i := range tooLarge {
			all[i].Timestamp = time.Time{}
			err := w.r.p.ProduceSync(bg, all[i]).FirstErr()
			switch {
			case err == nil:
			case IsTooLarge(err):
				dead = append(dead, DeadLetter{Msg: batch[i], Err: err.Error()})
			default:
				retry = append(retry, i)
				if firstErr == nil {
					firstErr = err
				}
			}
		}
		if len(retry) == 0 {
			sort.Slice(dead, func(a, b int) bool { return dead[a].Msg.ID < dead[b].Msg.ID })
			return dead, nil
		}
		sort.Ints(retry)
		if m := o.Metrics; m != nil {
			m.errors.WithLabelValues(topic).Inc()
		}
		if o.Once && attempt >= o.OnceAttempts {
			return nil, fmt.Errorf("publishing %d of %d messages failed after %d attempts: %w", len(retry), len(batch), attempt, firstErr)
		}
		w.log.Warn(fmt.Sprintf("Got error %v when publishing %d messages, retrying...", firstErr, len(retry)), "topic", topic, "attempt", attempt, "retry_in", backoff.String())
		if !w.sleep(ctx, backoff, "retrying after a Kafka error") {
			w.log.Warn("stopping while Kafka is failing: rows kept for the next run", "topic", topic)
			return nil, errStopped
		}
		backoff = min(backoff*2, o.MaxBackoff)
		pending = retry
	}
}

// Compact keeps the last message per key, in order (docs/deimos-compat.md §2.4). Nothing is
// compacted when the first message's key is blank; nil keys later in the
// batch count as one key (as in Deimos).
func Compact(ms []Message) []Message {
	if len(ms) == 0 || len(ms[0].Key) == 0 {
		return ms
	}
	last := make(map[string]int, len(ms))
	for i, m := range ms {
		last[tuplekey.Encode(m.Key)] = i
	}
	if len(last) == len(ms) {
		return ms
	}
	out := make([]Message, 0, len(last))
	for i, m := range ms {
		if last[tuplekey.Encode(m.Key)] == i {
			out = append(out, m)
		}
	}
	return out
}

// DefaultMaxMessageBytes is the largest record the relay's producer sends
// unless outbox.max_message_bytes says otherwise (franz-go's default).
const DefaultMaxMessageBytes = 1000012

// ProducerOpts are the franz-go options the relay adds to kafkaclient.Opts:
// a bounded delivery time per attempt (so failures surface and back off while
// the lock is heartbeated) and broker-side topic auto-creation as librdkafka
// producers get it. maxMessageBytes (0: the default) caps one record.
func ProducerOpts(deliveryTimeout time.Duration, maxMessageBytes int) []kgo.Opt {
	if deliveryTimeout <= 0 {
		deliveryTimeout = 30 * time.Second
	}
	if maxMessageBytes <= 0 {
		maxMessageBytes = DefaultMaxMessageBytes
	}
	return []kgo.Opt{
		kgo.RecordDeliveryTimeout(deliveryTimeout),
		// Without it the idempotent producer never times out a request it
		// wrote to a broker that then went away (it cannot tell whether the
		// broker stored it), and an attempt waits until the broker is back.
		// The relay re-sends a failed attempt itself (at-least-once), so
		// duplicates are what it allows anyway.
		kgo.AllowIdempotentProduceCancellation(),
		kgo.AllowAutoTopicCreation(),
		kgo.MaxBufferedRecords(100000),
		kgo.ProducerBatchMaxBytes(int32(min(maxMessageBytes, 1<<30))),
		// librdkafka's default (compression.codec=none), as Deimos sends.
		kgo.ProducerBatchCompression(kgo.NoCompression()),
	}
}
