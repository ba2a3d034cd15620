package produce

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/deimos-cli/deimos/pkg/db"
	"github.com/deimos-cli/deimos/pkg/errs"
	"github.com/deimos-cli/deimos/pkg/kafkaclient"
	"github.com/deimos-cli/deimos/pkg/outbox"
)

// manualPartCtx marks a record whose partition was chosen by the user.
type manualPartCtx struct{}

// Partitioner wraps a partitioner so records sent with an explicit partition
// (-p, envelope partitions) go exactly there.
func Partitioner(inner kgo.Partitioner) kgo.Partitioner { return &manualPartitioner{inner} }

type manualPartitioner struct{ inner kgo.Partitioner }

func (p *manualPartitioner) ForTopic(t string) kgo.TopicPartitioner {
	return &manualTopicPartitioner{p.inner.ForTopic(t)}
}

type manualTopicPartitioner struct{ inner kgo.TopicPartitioner }

func manualPart(r *kgo.Record) (int32, bool) {
	if r.Context == nil {
		return 0, false
	}
	if pk, ok := r.Context.(*kafkaclient.PartitionKeyContext); ok && pk.Context == context.Background() {
		return 0, false // what Send gives a record with a partition key and no partition
	}
	p, ok := r.Context.Value(manualPartCtx{}).(int32)
	return p, ok
}

func (p *manualTopicPartitioner) RequiresConsistency(r *kgo.Record) bool {
	if _, ok := manualPart(r); ok {
		return true
	}
	return p.inner.RequiresConsistency(r)
}

func (p *manualTopicPartitioner) Partition(r *kgo.Record, n int) int {
	if mp, ok := manualPart(r); ok {
		return int(mp)
	}
	return p.inner.Partition(r, n)
}

func (p *manualTopicPartitioner) OnNewBatch() {
	if nb, ok := p.inner.(kgo.TopicPartitionerOnNewBatch); ok {
		nb.OnNewBatch()
	}
}

// KafkaSink produces asynchronously: records are pipelined and batched by
// the client, which bounds what is in flight (kgo.MaxBufferedRecords), so
// memory stays flat. Only broker-acknowledged records are counted as sent.
type KafkaSink struct {
	cl         *kgo.Client
	partitions map[string]int // known partition counts (-1: unknown topic)

	sent, bytes, failed atomic.Int64
	queued              atomic.Int64
	mu                  sync.Mutex
	failures            []Failure
	unknownTopic        atomic.Bool

	timeout time.Duration
	sctx    context.Context // cancelled by the watchdog when nothing is acknowledged for timeout
	cancel  context.CancelFunc
	stuck   atomic.Bool
	stop    chan struct{}
	// promiseFn is s.promise, bound once (a method value per Send would
	// allocate)
	promiseFn func(*kgo.Record, error)
}

// NewKafkaSink sends through cl (built with Partitioner wrapping the
// configured one). When records are outstanding and none is acknowledged or
// fails for timeout, the rest are given up (reported, exit 3). Record
// timestamps are kept as given, so kgo's own delivery timeout (which counts
// from the record timestamp) cannot be used for this.
func NewKafkaSink(cl *kgo.Client, timeout time.Duration) *KafkaSink {
	s := &KafkaSink{cl: cl, partitions: map[string]int{}, timeout: timeout, stop: make(chan struct{})}
	s.promiseFn = s.promise
	s.sctx, s.cancel = context.WithCancel(context.Background())
	if timeout > 0 {
		go s.watchdog()
	}
	return s
}

func (s *KafkaSink) watchdog() {
	tick := time.NewTicker(min(s.timeout/10+time.Millisecond, time.Second))
	defer tick.Stop()
	last, since := int64(-1), time.Now()
	for {
		select {
		case <-s.stop:
			return
		case <-tick.C:
		}
		done := s.sent.Load() + s.failed.Load()
		if done != last || s.queued.Load() == done {
			last, since = done, time.Now()
			continue
		}
		if time.Since(since) > s.timeout {
			s.stuck.Store(true)
			s.cancel()
			return
		}
	}
}

// sinkRecord is a record with what its promise reports. run gives each
// Out one of its chunk's (KafkaSink is a holder: run reuses a chunk's
// messages and records once all are delivered) and they share one promise,
// so sending allocates neither a record nor a closure per message.
type sinkRecord struct {
	kgo.Record // first: the promise's *kgo.Record is the sinkRecord's address
	out        *Out
	size       int64
	pk         kafkaclient.PartitionKeyContext // the Context of a record with a partition key
}

func (s *KafkaSink) holds() {}

// promise counts an acknowledged or failed record and recycles it.
func (s *KafkaSink) promise(r *kgo.Record, err error) {
	sr := (*sinkRecord)(unsafe.Pointer(r))
	if err != nil {
		s.failed.Add(1)
		if errors.Is(err, kerr.UnknownTopicOrPartition) {
			s.unknownTopic.Store(true)
		}
		s.mu.Lock()
		if len(s.failures) < 100 {
			s.failures = append(s.failures, Failure{Line: sr.out.Line, Err: err})
		}
		s.mu.Unlock()
	} else {
		s.sent.Add(1)
		s.bytes.Add(sr.size)
	}
	sr.out.release()
}

// Send queues m; it blocks only when the in-flight buffer is full.
func (s *KafkaSink) Send(ctx context.Context, m *Out) error {
	sr := m.rec
	if sr == nil {
		sr = new(sinkRecord)
	}
	*sr = sinkRecord{out: m, size: int64(len(m.Key) + len(m.Value))}
	r := &sr.Record
	r.Topic, r.Key, r.Value, r.Timestamp = m.Topic, m.Key, m.Value, m.Timestamp
	if len(m.Headers) > 0 {
		r.Headers = make([]kgo.RecordHeader, len(m.Headers))
		for i, h := range m.Headers {
			r.Headers[i] = kgo.RecordHeader{Key: h.Key, Value: h.Value}
		}
	}
	var rctx context.Context
	if m.PartitionKey != nil {
		sr.pk = kafkaclient.PartitionKeyContext{Context: context.Background(), Key: m.PartitionKey}
		rctx = &sr.pk
	}
	if m.Partition >= 0 {
		n, err := s.count(ctx, m.Topic)
		if err != nil {
			return err
		}
		if n >= 0 && int(m.Partition) >= n {
			return errs.Failed(&InputError{Line: m.Line, Err: fmt.Errorf("partition %d does not exist in topic %s (%d partitions)", m.Partition, m.Topic, n)})
		}
		if rctx == nil {
			rctx = context.Background()
		}
		rctx = context.WithValue(rctx, manualPartCtx{}, m.Partition)
	}
	r.Context = rctx
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if s.stuck.Load() {
		return s.stuckErr()
	}
	s.queued.Add(1)
	s.cl.Produce(s.sctx, r, s.promiseFn)
	return nil
}

func (s *KafkaSink) count(ctx context.Context, topic string) (int, error) {
	if n, ok := s.partitions[topic]; ok {
		return n, nil
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	m, err := kafkaclient.PartitionCounts(cctx, s.cl, topic)
	if err != nil {
		return 0, errs.Unavailablef("kafka: metadata for %s: %w", topic, err)
	}
	n, ok := m[topic]
	if !ok {
		n = -1
	}
	s.partitions[topic] = n
	return n, nil
}

func (s *KafkaSink) stuckErr() error {
	return errs.Unavailablef("kafka: %d message(s) not acknowledged: no progress for %s (broker unreachable?)",
		s.queued.Load()-s.sent.Load(), s.timeout)
}

func (s *KafkaSink) topics() []string {
	var ts []string
	for t := range s.partitions {
		ts = append(ts, t)
	}
	return ts
}

// Sent is the number of acknowledged records so far (for progress).
func (s *KafkaSink) Sent() int64 { return s.sent.Load() }

// Close waits for every record to be acknowledged or to fail.
func (s *KafkaSink) Close(ctx context.Context) (Result, error) {
	fctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-s.sctx.Done():
			cancel()
		case <-fctx.Done():
		}
	}()
	err := s.cl.Flush(fctx)
	close(s.stop)
	if err != nil && s.stuck.Load() {
		// give the client a moment to fail what it still holds
		s.cl.PurgeTopicsFromProducing(s.topics()...)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	res := Result{Messages: s.sent.Load(), Bytes: s.bytes.Load(), Failed: s.queued.Load() - s.sent.Load(), Failures: append([]Failure(nil), s.failures...)}
	if s.stuck.Load() {
		return res, s.stuckErr()
	}
	if err != nil {
		return res, errs.Failedf("flush: %w", err)
	}
	if res.Failed > 0 {
		f := res.Failures[0]
		e := fmt.Errorf("%d message(s) not delivered; first at line %d: %w", res.Failed, f.Line, f.Err)
		if s.unknownTopic.Load() {
			return res, errs.Unavailable(e)
		}
		if errors.Is(f.Err, kgo.ErrRecordTimeout) || errors.Is(f.Err, kgo.ErrRecordRetries) {
			return res, errs.Unavailable(e)
		}
		return res, errs.Failed(e)
	}
	return res, nil
}

// OutboxSink collects rows and writes them into kafka_messages in one
// transaction at Close (all or nothing). Headers go into the opt-in
// kafka_messages.headers column, which `outbox run` sends; without the
// column a message with headers is a usage error (exit 2), never a silent
// drop.
type OutboxSink struct {
	DB   *db.DB
	Now  func() time.Time
	rows []outbox.Row
	size int64
	// headersCol: nil until the first message with headers asks.
	headersCol *bool
}

// Send keeps the row.
func (s *OutboxSink) Send(ctx context.Context, m *Out) error {
	if m.Partition >= 0 {
		return errs.Failed(&InputError{Line: m.Line, Err: fmt.Errorf("an explicit partition cannot be stored in kafka_messages (Deimos has no such column)")})
	}
	var pk *string
	if m.PartitionKey != nil {
		p := string(m.PartitionKey)
		pk = &p
	}
	row := outbox.Row{Topic: m.Topic, Message: m.Value, Key: m.Key, PartitionKey: pk}
	if len(m.Headers) > 0 {
		if s.headersCol == nil {
			ok, err := outbox.HeadersColumn(ctx, s.DB)
			if err != nil {
				return errs.Unavailablef("outbox: reading the columns of kafka_messages: %w", err)
			}
			s.headersCol = &ok
		}
		if !*s.headersCol {
			return errs.Usagef("outbox: line %d has %d header(s) but %s", m.Line, len(m.Headers), outbox.ErrNoHeadersColumn)
		}
		h, err := columnHeaders(m.Headers)
		if err != nil {
			return errs.Failed(&InputError{Line: m.Line, Err: err})
		}
		row.Headers = h
	}
	s.rows = append(s.rows, row)
	s.size += int64(len(m.Key) + len(m.Value))
	return nil
}

// columnHeaders turns record headers into what the headers column holds, a
// JSON object of strings. What it cannot hold is an error, not a loss: a key
// given twice, a null value, a value that is not UTF-8 text.
func columnHeaders(hs []Header) (map[string]string, error) {
	out := make(map[string]string, len(hs))
	for _, h := range hs {
		if _, dup := out[h.Key]; dup {
			return nil, fmt.Errorf("header %q appears twice; the kafka_messages.headers column holds one value per key", h.Key)
		}
		if h.Value == nil {
			return nil, fmt.Errorf("header %q has a null value; the kafka_messages.headers column holds strings only", h.Key)
		}
		if !utf8.Valid(h.Value) {
			return nil, fmt.Errorf("header %q is not UTF-8 text; the kafka_messages.headers column holds strings only", h.Key)
		}
		out[h.Key] = string(h.Value)
	}
	return out, nil
}

// Close inserts every row in one transaction. Nothing is written when the
// input had an error (Run closes the sink after it; see Discard).
func (s *OutboxSink) Close(ctx context.Context) (Result, error) {
	if len(s.rows) == 0 {
		return Result{}, nil
	}
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	err := s.DB.Tx(ctx, func(tx *sql.Tx) error {
		return outbox.Insert(ctx, tx, s.DB.Dialect, s.rows, now())
	})
	if err != nil {
		return Result{Failed: int64(len(s.rows))}, errs.Failedf("outbox: %w", err)
	}
	return Result{Messages: int64(len(s.rows)), Bytes: s.size}, nil
}

// Discard drops the collected rows (after an input error, so the
// transaction is all or nothing).
func (s *OutboxSink) Discard() { s.rows = nil }

// DryRunSink prints what would be sent, one JSON object per message, and
// sends nothing. Partitions are computed with the configured partitioner
// when the partition count is known (Counts), else left null.
type DryRunSink struct {
	W           io.Writer
	Partitioner string
	Counts      func(topic string) int // -1: unknown
	n, size     int64
}

type dryRun struct {
	Line         int               `json:"line"`
	Topic        string            `json:"topic"`
	Partition    *int32            `json:"partition"`
	Key          *string           `json:"key"`
	Value        *string           `json:"value"`
	PartitionKey *string           `json:"partition_key,omitempty"`
	Headers      []json.RawMessage `json:"headers,omitempty"`
	Timestamp    string            `json:"timestamp,omitempty"`
}

// Send prints m: key and value base64 (null for none).
func (s *DryRunSink) Send(_ context.Context, m *Out) error {
	d := dryRun{Line: m.Line, Topic: m.Topic}
	if m.Key != nil {
		k := base64.StdEncoding.EncodeToString(m.Key)
		d.Key = &k
	}
	if m.Value != nil {
		v := base64.StdEncoding.EncodeToString(m.Value)
		d.Value = &v
	}
	if m.PartitionKey != nil {
		pk := string(m.PartitionKey)
		d.PartitionKey = &pk
	}
	if !m.Timestamp.IsZero() {
		d.Timestamp = m.Timestamp.UTC().Format(time.RFC3339Nano)
	}
	for _, h := range m.Headers {
		b, _ := json.Marshal(map[string]any{"key": h.Key, "value": h.Value})
		d.Headers = append(d.Headers, b)
	}
	switch {
	case m.Partition >= 0:
		p := m.Partition
		d.Partition = &p
	case s.Counts != nil:
		if n := s.Counts(m.Topic); n > 0 {
			hk := m.PartitionKey
			if hk == nil {
				hk = m.Key
			}
			if len(hk) > 0 {
				p := int32(kafkaclient.PartitionFor(s.Partitioner, hk, n))
				d.Partition = &p
			}
		}
	}
	b, err := json.Marshal(d)
	if err != nil {
		return err
	}
	if _, err := s.W.Write(append(b, '\n')); err != nil {
		return err
	}
	s.n++
	s.size += int64(len(m.Key) + len(m.Value))
	return nil
}

// Close reports the count.
func (s *DryRunSink) Close(context.Context) (Result, error) {
	return Result{Messages: s.n, Bytes: s.size}, nil
}
