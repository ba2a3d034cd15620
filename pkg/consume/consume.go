package consume

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/deimos-cli/deimos/internal/jsonesc"
	"github.com/deimos-cli/deimos/pkg/db"
	"github.com/deimos-cli/deimos/pkg/encode"
	"github.com/deimos-cli/deimos/pkg/errs"
	"github.com/deimos-cli/deimos/pkg/progress"
)

// Decoder is the part of the encode engine consume needs.
type Decoder interface {
	SpecFor(topic string) (encode.Spec, bool)
	Decode(ctx context.Context, s encode.Spec, key, value []byte) (encode.Decoded, error)
}

// Options configure Run.
type Options struct {
	Topics        []string // topic names, or regular expressions with Regex
	Regex         bool
	Partitions    []int32 // nil: all
	Offset        Offset
	Until         *Bound
	Count         int // stop after this many records (0: no limit)
	ExitAtEnd     bool
	Group         string // "": direct partition consumption, no group state touched
	ReadCommitted bool
	Strict        bool          // a decode error is fatal (exit 1)
	Decoder       Decoder       // nil: no decoding (raw representation)
	Handler       Handler       // receives every batch (required)
	Timeout       time.Duration // for reaching the cluster and listing offsets (default 30s)
	// OnAssigned is told, once, which partitions will be read and where they end (-e).
	OnAssigned func(parts []PartitionRange)
	// ReuseBatches says Handler keeps neither a batch nor any byte slice of
	// its records after Handle returns (the Printer): Run then reuses the
	// batch and decode memory from poll to poll.
	ReuseBatches bool
	// Reach, when set, wraps the first check that a broker answers (ping):
	// kafkaclient.Reach, which names a TLS or SASL mismatch at once.
	Reach func(ctx context.Context, ping func(context.Context) error) error
	// Progress hears each handled (and committed) batch, and the waits for
	// records (optional).
	Progress progress.Reporter
	// WaitForTopics waits (idle) for topics that do not exist yet instead
	// of failing: a long-running job may start before its producers.
	WaitForTopics bool
}

// PartitionRange is a partition's planned start and stop (-1: unbounded).
type PartitionRange struct {
	Topic     string
	Partition int32
	Start     int64
	Stop      int64
}

// Stats count what Run saw.
type Stats struct {
	Records      int64
	DecodeErrors int64
}

type tp struct {
	t string
	p int32
}

// Run consumes until the context ends, -c/-e/--until stop it, or an error.
// base are the client options from kafkaclient.Opts.
func Run(ctx context.Context, base []kgo.Opt, o Options) (Stats, error) {
	var st Stats
	if o.Handler == nil {
		return st, errs.Usagef("consume: no handler")
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	if o.Offset.Kind == OffsetStored && o.Group == "" {
		return st, errs.Usagef("-o stored needs a consumer group (-g)")
	}
	admCl, err := kgo.NewClient(base...)
	if err != nil {
		return st, errs.Usagef("kafka client: %w", err)
	}
	defer admCl.Close()
	adm := kadm.NewClient(admCl)

	mctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	reach := o.Reach
	if reach == nil {
		reach = func(ctx context.Context, ping func(context.Context) error) error { return ping(ctx) }
	}
	if err := reach(mctx, admCl.Ping); err != nil {
		if ctx.Err() != nil {
			return st, ctx.Err()
		}
		if errs.KindOf(err) == errs.KindUsage {
			return st, err
		}
		return st, errs.Unavailablef("kafka: cannot reach brokers within %s: %w", o.Timeout, err)
	}
	rep := progress.Or(o.Progress)
	topics, parts, err := resolveTopics(mctx, adm, o)
	if err != nil && o.WaitForTopics && errors.Is(err, kerr.UnknownTopicOrPartition) {
		if topics, parts, err = waitForTopics(ctx, adm, o, rep, err); err == nil {
			var cancel2 context.CancelFunc
			mctx, cancel2 = context.WithTimeout(ctx, o.Timeout) // the first one may have run out
			defer cancel2()
		}
	}
	rep.Idle("")
	if err != nil {
		if ctx.Err() != nil {
			return st, ctx.Err()
		}
		return st, err
	}

	plan, err := planOffsets(mctx, adm, o, topics, parts)
	if err != nil {
		if ctx.Err() != nil {
			return st, ctx.Err()
		}
		return st, err
	}
	cancel()
	if o.OnAssigned != nil {
		o.OnAssigned(plan.ranges())
	}

	pending := map[tp]int64{} // partitions with a stop: the stop offset
	for k, r := range plan.parts {
		if r.Stop >= 0 && r.Start < r.Stop {
			pending[k] = r.Stop
		}
	}
	bounded := o.ExitAtEnd || o.Until != nil
	if bounded && len(pending) == 0 && allStopped(plan) {
		return st, nil
	}

	opts := append([]kgo.Opt{}, base...)
	opts = append(opts, kgo.KeepControlRecords(), kgo.FetchMaxWait(500*time.Millisecond))
	if o.ReadCommitted {
		opts = append(opts, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	}
	if o.Group == "" {
		m := map[string]map[int32]kgo.Offset{}
		for k, r := range plan.parts {
			if bounded && r.Stop >= 0 && r.Start >= r.Stop {
				continue // nothing to read there
			}
			if m[k.t] == nil {
				m[k.t] = map[int32]kgo.Offset{}
			}
			m[k.t][k.p] = kgo.NewOffset().At(r.Start)
		}
		opts = append(opts, kgo.ConsumePartitions(m))
	} else {
		opts = append(opts, kgo.ConsumerGroup(o.Group), kgo.ConsumeTopics(topics...),
			kgo.DisableAutoCommit(), kgo.BlockRebalanceOnPoll(), kgo.ConsumeResetOffset(resetOffset(o.Offset)))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return st, errs.Usagef("kafka client: %w", err)
	}
	defer func() {
		if o.Group != "" {
			// a poll blocks rebalances until allowed; leaving (and Close)
			// would wait for that forever
			cl.AllowRebalance()
			lctx, c := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			_ = cl.LeaveGroupContext(lctx)
			c()
		}
		cl.Close()
	}()

	specs := newSpecCache()
	var recs []*kgo.Record
	pos := map[tp]int64{}
	var lastErr error
	for {
		if bounded && len(pending) == 0 {
			return st, nil
		}
		pctx, pcancel := ctx, context.CancelFunc(func() {})
		if bounded {
			pctx, pcancel = context.WithTimeout(ctx, 2*time.Second)
		}
		rep.Idle("waiting for records")
		fs := cl.PollRecords(pctx, 10000)
		rep.Idle("")
		pcancel()
		if ctx.Err() != nil {
			return st, nil // Ctrl-C: clean stop (everything handled is committed)
		}
		var fatal error
		fs.EachError(func(t string, p int32, e error) {
			if errors.Is(e, context.DeadlineExceeded) || errors.Is(e, context.Canceled) {
				return
			}
			if errors.Is(e, kerr.UnknownTopicOrPartition) || errors.Is(e, kerr.UnknownTopicID) {
				fatal = errs.Unavailablef("topic %s partition %d: %w", t, p, e)
				return
			}
			if errors.Is(e, kgo.ErrClientClosed) {
				fatal = e
				return
			}
			lastErr = fmt.Errorf("topic %s partition %d: %w", t, p, e)
		})
		if fatal != nil {
			return st, fatal
		}
		recs = recs[:0]
		commit := map[string]map[int32]kgo.EpochOffset{}
		done := false
		// per partition: the map lookups once per partition, not per record
		fs.EachPartition(func(p kgo.FetchTopicPartition) {
			if done || len(p.Records) == 0 {
				return
			}
			k := tp{p.Topic, p.Partition}
			stop, hasStop := plan.stopOf(k)
			hasStop = hasStop && stop >= 0
			pstop, isPending := pending[k]
			var last *kgo.Record
			for _, r := range p.Records {
				if done {
					break
				}
				if hasStop && r.Offset >= stop {
					delete(pending, k)
					isPending = false
					continue
				}
				if plan.untilTime != nil && !r.Timestamp.Before(*plan.untilTime) && !r.Attrs.IsControl() {
					// a time bound on a partition without a listed stop offset
					delete(pending, k)
					isPending = false
					continue
				}
				last = r
				if isPending && r.Offset+1 >= pstop {
					delete(pending, k)
					isPending = false
				}
				if r.Attrs.IsControl() {
					continue
				}
				recs = append(recs, r)
				if o.Count > 0 && st.Records+int64(len(recs)) >= int64(o.Count) {
					done = true
				}
			}
			if last != nil {
				pos[k] = last.Offset + 1
				if commit[p.Topic] == nil {
					commit[p.Topic] = map[int32]kgo.EpochOffset{}
				}
				commit[p.Topic][p.Partition] = kgo.EpochOffset{Epoch: last.LeaderEpoch, Offset: last.Offset + 1}
			}
		})
		if !o.ReuseBatches {
			specs.fresh() // handlers may keep the batch
		}
		batch := decodeAll(ctx, o.Decoder, specs, recs)
		for i := range batch {
			if batch[i].DecodeErr != nil {
				st.DecodeErrors++
			}
		}
		if len(batch) > 0 {
			if err := o.Handler.Handle(ctx, batch); err != nil {
				if ctx.Err() != nil {
					return st, nil
				}
				return st, err
			}
			st.Records += int64(len(batch))
		}
		if o.Group != "" && len(commit) > 0 {
			cctx, c := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			var cerr error
			cl.CommitOffsetsSync(cctx, commit, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
				if err != nil {
					cerr = err
					return
				}
				for _, t := range resp.Topics {
					for _, p := range t.Partitions {
						if e := kerr.ErrorForCode(p.ErrorCode); e != nil && cerr == nil {
							cerr = e
						}
					}
				}
			})
			c()
			if cerr != nil {
				return st, fmt.Errorf("commit offsets for group %s: %w", o.Group, cerr)
			}
		}
		if o.Group != "" {
			cl.AllowRebalance()
		}
		rep.Progress()
		if o.Strict && st.DecodeErrors > 0 {
			return st, errs.Failedf("%d record(s) could not be decoded (--strict)", st.DecodeErrors)
		}
		if done {
			return st, nil
		}
		if bounded && len(pending) > 0 && len(batch) == 0 && fs.NumRecords() == 0 {
			// Idle: the tail of a partition may be compacted away or be
			// aborted data; ask the broker whether anything is left.
			if err := probeTails(ctx, adm, admCl, o, pending, pos, plan); err != nil && lastErr == nil {
				lastErr = err
			}
		}
	}
}

func allStopped(p *offsetPlan) bool {
	for _, r := range p.parts {
		if r.Stop < 0 || r.Start < r.Stop {
			return false
		}
	}
	return true
}

func resetOffset(o Offset) kgo.Offset {
	switch o.Kind {
	case OffsetEnd:
		return kgo.NewOffset().AtEnd()
	case OffsetExact:
		return kgo.NewOffset().At(o.N)
	case OffsetLast:
		return kgo.NewOffset().AtEnd().Relative(-o.N)
	case OffsetFromStart:
		return kgo.NewOffset().AtStart().Relative(o.N)
	case OffsetTime:
		return kgo.NewOffset().AfterMilli(o.At.UnixMilli())
	}
	return kgo.NewOffset().AtStart()
}

// resolveTopics expands regexes and checks topics and partitions exist.
// waitForTopics retries resolveTopics while a topic does not exist: a job
// may start before its producers, whose first message creates the topic.
// Waiting is not a fault (the reporter says why).
func waitForTopics(ctx context.Context, adm *kadm.Client, o Options, rep progress.Reporter, err error) ([]string, map[string][]int32, error) {
	for {
		rep.Idle("waiting for the topic to exist: " + err.Error())
		if err := db.SleepCtx(ctx, time.Second); err != nil {
			return nil, nil, err
		}
		rctx, cancel := context.WithTimeout(ctx, o.Timeout)
		topics, parts, err2 := resolveTopics(rctx, adm, o)
		cancel()
		if err2 == nil || !errors.Is(err2, kerr.UnknownTopicOrPartition) {
			return topics, parts, err2
		}
		err = err2
	}
}

func resolveTopics(ctx context.Context, adm *kadm.Client, o Options) ([]string, map[string][]int32, error) {
	if len(o.Topics) == 0 {
		return nil, nil, errs.Usagef("no topic given (-t TOPIC)")
	}
	var td kadm.TopicDetails
	var err error
	if o.Regex {
		td, err = adm.ListTopics(ctx)
	} else {
		td, err = adm.ListTopics(ctx, o.Topics...)
	}
	if err != nil {
		return nil, nil, errs.Unavailablef("kafka: list topics: %w", err)
	}
	var topics []string
	if o.Regex {
		var res []*regexp.Regexp
		for _, p := range o.Topics {
			re, err := regexp.Compile("^(?:" + p + ")$")
			if err != nil {
				return nil, nil, errs.Usagef("--regex %q: %w", p, err)
			}
			res = append(res, re)
		}
		for _, t := range td.Sorted() {
			if t.IsInternal || strings.HasPrefix(t.Topic, "__") || t.Err != nil {
				continue
			}
			for _, re := range res {
				if re.MatchString(t.Topic) {
					topics = append(topics, t.Topic)
					break
				}
			}
		}
		if len(topics) == 0 {
			return nil, nil, errs.Failedf("no topic matches %s", strings.Join(o.Topics, ", "))
		}
	} else {
		for _, name := range o.Topics {
			d, ok := td[name]
			if !ok || d.Err != nil {
				e := error(kerr.UnknownTopicOrPartition)
				if ok && d.Err != nil {
					e = d.Err
				}
				return nil, nil, errs.Unavailablef("topic %q: %w", name, e)
			}
			topics = append(topics, name)
		}
	}
	parts := map[string][]int32{}
	for _, t := range topics {
		d := td[t]
		have := map[int32]bool{}
		for p := range d.Partitions {
			have[p] = true
		}
		if len(o.Partitions) > 0 {
			for _, p := range o.Partitions {
				if !have[p] {
					return nil, nil, errs.Usagef("topic %q has no partition %d (it has %d)", t, p, len(have))
				}
				parts[t] = append(parts[t], p)
			}
		} else {
			for p := range have {
				parts[t] = append(parts[t], p)
			}
		}
		sort.Slice(parts[t], func(i, j int) bool { return parts[t][i] < parts[t][j] })
	}
	return topics, parts, nil
}

type offsetPlan struct {
	parts     map[tp]PartitionRange
	untilTime *time.Time
}

func (p *offsetPlan) stopOf(k tp) (int64, bool) {
	r, ok := p.parts[k]
	return r.Stop, ok
}

func (p *offsetPlan) ranges() []PartitionRange {
	var out []PartitionRange
	for _, r := range p.parts {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Topic != out[j].Topic {
			return out[i].Topic < out[j].Topic
		}
		return out[i].Partition < out[j].Partition
	})
	return out
}

func planOffsets(ctx context.Context, adm *kadm.Client, o Options, topics []string, parts map[string][]int32) (*offsetPlan, error) {
	starts, err := adm.ListStartOffsets(ctx, topics...)
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		return nil, errs.Unavailablef("kafka: list start offsets: %w", err)
	}
	var ends kadm.ListedOffsets
	if o.ReadCommitted {
		ends, err = adm.ListCommittedOffsets(ctx, topics...)
	} else {
		ends, err = adm.ListEndOffsets(ctx, topics...)
	}
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return nil, errs.Unavailablef("kafka: list end offsets: %w", err)
	}
	var atTime kadm.ListedOffsets
	if o.Offset.Kind == OffsetTime {
		atTime, err = adm.ListOffsetsAfterMilli(ctx, o.Offset.At.UnixMilli(), topics...)
		if err == nil {
			err = atTime.Error()
		}
		if err != nil {
			return nil, errs.Unavailablef("kafka: list offsets by time: %w", err)
		}
	}
	var untilAt kadm.ListedOffsets
	if o.Until != nil && o.Until.Offset < 0 {
		untilAt, err = adm.ListOffsetsAfterMilli(ctx, o.Until.At.UnixMilli(), topics...)
		if err == nil {
			err = untilAt.Error()
		}
		if err != nil {
			return nil, errs.Unavailablef("kafka: list offsets by time: %w", err)
		}
	}
	var committed kadm.OffsetResponses
	if o.Group != "" {
		committed, err = adm.FetchOffsets(ctx, o.Group)
		if errors.Is(err, kerr.GroupIDNotFound) {
			committed, err = nil, nil // a new group: nothing committed yet
		}
		if err != nil {
			return nil, errs.Unavailablef("kafka: fetch offsets of group %s: %w", o.Group, err)
		}
	}
	plan := &offsetPlan{parts: map[tp]PartitionRange{}}
	for _, t := range topics {
		for _, p := range parts[t] {
			s, _ := starts.Lookup(t, p)
			e, _ := ends.Lookup(t, p)
			at := int64(-1)
			if l, ok := atTime.Lookup(t, p); ok {
				at = l.Offset
			}
			start := startOffset(o.Offset, s.Offset, e.Offset, at)
			if o.Group != "" {
				if c, ok := committed.Lookup(t, p); ok && c.Err == nil && c.At >= 0 {
					start = c.At
				}
			}
			stop := int64(-1)
			if o.ExitAtEnd {
				stop = e.Offset
			}
			if o.Until != nil {
				u := o.Until.Offset
				if u < 0 {
					u = e.Offset
					if l, ok := untilAt.Lookup(t, p); ok && l.Offset >= 0 {
						u = l.Offset
					}
				}
				if stop < 0 || u < stop {
					stop = u
				}
			}
			plan.parts[tp{t, p}] = PartitionRange{Topic: t, Partition: p, Start: start, Stop: stop}
		}
	}
	return plan, nil
}

// specCache holds each topic's spec, one map per decode worker, and the
// memory decodeAll reuses when batches are not kept by the handler.
type specCache struct {
	per    []map[string]*encode.Spec
	arenas [][]byte
	batch  []Record
}

func newSpecCache() *specCache {
	n := runtime.GOMAXPROCS(0)
	c := &specCache{per: make([]map[string]*encode.Spec, n), arenas: make([][]byte, n)}
	for i := range c.per {
		c.per[i] = map[string]*encode.Spec{}
	}
	return c
}

// fresh makes the next decodeAll allocate new memory for everything it
// returns.
func (c *specCache) fresh() {
	c.batch = nil
	clear(c.arenas)
}

// minParallelDecode is the smallest batch worth splitting across cores.
const minParallelDecode = 512

// appendDecoder is implemented by the encode engine: Decode into a buffer
// the caller provides (one allocation per batch instead of per record).
type appendDecoder interface {
	DecodeAppend(ctx context.Context, s encode.Spec, key, value, dst []byte) (encode.Decoded, []byte, error)
}

// decodeAll decodes recs in order. Large batches are
// split into contiguous runs decoded on all cores; positions are kept, so
// the handler sees exactly the order a sequential decode gives.
func decodeAll(ctx context.Context, dec Decoder, specs *specCache, recs []*kgo.Record) []Record {
	if len(recs) == 0 {
		return nil
	}
	if cap(specs.batch) < len(recs) {
		specs.batch = make([]Record, len(recs))
	}
	batch := specs.batch[:len(recs)]
	workers := len(specs.per)
	if dec == nil || workers < 2 || len(recs) < minParallelDecode {
		d := newRecordDecoder(dec, specs.per[0], recs, specs.arenas[0])
		for i, r := range recs {
			d.decode(ctx, r, &batch[i])
		}
		specs.arenas[0] = d.arena[:0]
		return batch
	}
	var wg sync.WaitGroup
	per := (len(recs) + workers - 1) / workers
	for w := 0; w < workers; w++ {
		lo, hi := w*per, min((w+1)*per, len(recs))
		if lo >= hi {
			break
		}
		wg.Add(1)
		go func(w, lo, hi int) {
			defer wg.Done()
			d := newRecordDecoder(dec, specs.per[w], recs[lo:hi], specs.arenas[w])
			for i := lo; i < hi; i++ {
				d.decode(ctx, recs[i], &batch[i])
			}
			specs.arenas[w] = d.arena[:0]
		}(w, lo, hi)
	}
	wg.Wait()
	return batch
}

// recordDecoder decodes the records of one run; with an appendDecoder the
// decoded parts of all its records share one fresh arena (records keep
// pointing into it: it is never reused).
type recordDecoder struct {
	dec   Decoder
	app   appendDecoder
	specs map[string]*encode.Spec
	arena []byte
	sized bool
	recs  []*kgo.Record // the run (to size the arena)
}

// newRecordDecoder decodes recs; arena (nil: a fresh one) is where decoded
// parts go.
func newRecordDecoder(dec Decoder, specs map[string]*encode.Spec, recs []*kgo.Record, arena []byte) *recordDecoder {
	d := &recordDecoder{dec: dec, specs: specs, recs: recs, arena: arena[:0], sized: arena != nil}
	d.app, _ = dec.(appendDecoder)
	return d
}

// toRecord decodes one record; errors are kept on the record, never dropped.
func toRecord(ctx context.Context, dec Decoder, specs map[string]*encode.Spec, r *kgo.Record) Record {
	var rec Record
	newRecordDecoder(dec, specs, nil, nil).decode(ctx, r, &rec)
	return rec
}

// decode decodes r into *rec (every field is set).
func (d *recordDecoder) decode(ctx context.Context, r *kgo.Record, rec *Record) {
	dec := d.dec
	*rec = Record{
		Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, Timestamp: r.Timestamp,
		RawKey: r.Key, RawValue: r.Value,
	}
	if len(r.Headers) > 0 {
		rec.Headers = make([]Header, len(r.Headers))
		for i, h := range r.Headers {
			rec.Headers[i] = Header{Key: h.Key, Value: h.Value}
		}
	}
	rawParts := func() {
		rec.Key, rec.KeyEncoding = rawRepr(r.Key)
		rec.Value, rec.ValueEncoding = rawRepr(r.Value)
	}
	if dec == nil {
		rawParts()
		return
	}
	sp := d.specs[r.Topic]
	if sp == nil {
		s, ok := dec.SpecFor(r.Topic)
		if !ok {
			s = encode.Spec{}
		}
		sp = &s
		d.specs[r.Topic] = sp
	}
	// Bytes starting 0x00 but shorter than a Confluent header (magic + 4-byte
	// schema id) cannot be registry-framed: when the part would be
	// auto-detected, they are plain binary data, shown as base64 (no error).
	key, value := r.Key, r.Value
	zero := sp.Backend == "" && sp.Schema == ""
	if unframable(key) && (zero || sp.KeyConfig.Mode() == "" || sp.KeyConfig.Mode() == "none") {
		key = nil
	}
	if unframable(value) && zero {
		value = nil
	}
	var dd encode.Decoded
	var err error
	if d.app != nil {
		if !d.sized {
			// decoded JSON is under twice the Avro bytes: size the arena once
			// (a reused arena keeps the capacity it grew to)
			n := 0
			for _, x := range d.recs {
				n += len(x.Key) + len(x.Value)
			}
			d.arena, d.sized = make([]byte, 0, 2*n+256), true
		}
		dd, d.arena, err = d.app.DecodeAppend(ctx, *sp, key, value, d.arena)
	} else {
		dd, err = dec.Decode(ctx, *sp, key, value)
	}
	if err != nil {
		rec.DecodeErr = err
		rec.Key, rec.KeyEncoding = base64Repr(r.Key)
		rec.Value, rec.ValueEncoding = base64Repr(r.Value)
		return
	}
	rec.Key, rec.KeyEncoding = pick(dd.Key, dd.KeyFormat, r.Key)
	rec.Value, rec.ValueEncoding = pick(dd.Value, dd.ValueFormat, r.Value)
}

func unframable(b []byte) bool { return len(b) > 0 && len(b) < 5 && b[0] == 0 }

// pick keeps a schema-decoded part as JSON and represents unframed bytes
// (JSON text, plain text, binary) losslessly from the bytes themselves.
func pick(decoded []byte, f encode.Format, raw []byte) ([]byte, string) {
	if raw == nil {
		return nil, ""
	}
	switch f.Wire {
	case "json":
		// The decoder read the text as JSON: when its JSON is the text
		// itself, only compactness is left to check (saves two passes per
		// record on the table sink's path).
		if len(raw) > 0 && bytes.Equal(decoded, raw) && !spaceOutsideStrings(raw) {
			return raw, EncJSON
		}
		return rawRepr(raw)
	case "", "plain", "binary":
		return rawRepr(raw)
	}
	if decoded == nil {
		return rawRepr(raw)
	}
	return decoded, EncJSON
}

func base64Repr(b []byte) ([]byte, string) {
	if b == nil {
		return nil, ""
	}
	return jsonesc.AppendString(nil, b64(b)), EncBase64
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// probeTails asks each pending partition's leader for data at our position.
// An empty answer with a high watermark at or past the stop means the rest of
// the partition (up to the stop) holds nothing to read: compacted away,
// aborted, or markers. Such partitions are done.
func probeTails(ctx context.Context, adm *kadm.Client, cl *kgo.Client, o Options, pending map[tp]int64, pos map[tp]int64, plan *offsetPlan) error {
	var topics []string
	seen := map[string]bool{}
	for k := range pending {
		if !seen[k.t] {
			seen[k.t] = true
			topics = append(topics, k.t)
		}
	}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	md, err := adm.Metadata(pctx, topics...)
	if err != nil {
		return err
	}
	for k, stop := range pending {
		at, ok := pos[k]
		if !ok {
			at = plan.parts[k].Start
		}
		td, ok := md.Topics[k.t]
		if !ok {
			continue
		}
		pd, ok := td.Partitions[k.p]
		if !ok || pd.Leader < 0 {
			continue
		}
		req := kmsg.NewPtrFetchRequest()
		req.ReplicaID = -1
		req.MaxWaitMillis = 0
		req.MinBytes = 1
		req.MaxBytes = 1 << 20
		req.SessionEpoch = -1
		if o.ReadCommitted {
			req.IsolationLevel = 1
		}
		rt := kmsg.NewFetchRequestTopic()
		rt.Topic = k.t
		rt.TopicID = td.ID
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.Partition = k.p
		rp.FetchOffset = at
		rp.PartitionMaxBytes = 1 << 20
		rp.CurrentLeaderEpoch = -1
		rp.LogStartOffset = -1
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		b := cl.Broker(int(pd.Leader))
		if b == nil {
			continue
		}
		resp, err := b.Request(pctx, req)
		if err != nil {
			return err
		}
		fr, _ := resp.(*kmsg.FetchResponse)
		if fr == nil {
			continue
		}
		for _, t := range fr.Topics {
			for _, p := range t.Partitions {
				if p.Partition != k.p || p.ErrorCode != 0 {
					continue
				}
				if len(p.RecordBatches) == 0 {
					if p.HighWatermark >= stop || at >= stop {
						delete(pending, k)
					}
					continue
				}
				// Batches came back: done only if none of them holds a
				// readable record in [at, stop) — a batch compacted to
				// nothing, markers, aborted data, or records below at
				// (already delivered) — and they reach the stop.
				has, next := readableIn(p.RecordBatches, at, stop, o.ReadCommitted, p.AbortedTransactions)
				if !has && next >= stop {
					delete(pending, k)
				} else if !has && next > at {
					pos[k] = next // skip past it; the next probe asks from there
				}
			}
		}
	}
	return nil
}

var probeDecompressor = kgo.DefaultDecompressor()

// readableIn reports whether the raw record batches of a fetch response hold
// a record a consumer would deliver with an offset in [at, stop), and the
// offset just past the last batch seen. Anything it cannot parse counts as
// readable (the caller then keeps waiting rather than stopping early).
func readableIn(raw []byte, at, stop int64, readCommitted bool, aborted []kmsg.FetchResponseTopicPartitionAbortedTransaction) (bool, int64) {
	next := at
	pendingAborts := append([]kmsg.FetchResponseTopicPartitionAbortedTransaction(nil), aborted...)
	activeAbort := map[int64]bool{} // producers inside an aborted transaction (as kgo tracks them)
	for len(raw) >= 12 {
		length := int64(binary.BigEndian.Uint32(raw[8:12]))
		if length < 49 || int64(len(raw)) < 12+length {
			break // a partial trailing batch: nothing more to learn here
		}
		var b kmsg.RecordBatch
		if err := b.ReadFrom(raw[:12+length]); err != nil {
			return true, next
		}
		raw = raw[12+length:]
		if b.Magic != 2 {
			return true, next
		}
		last := b.FirstOffset + int64(b.LastOffsetDelta)
		if last+1 > next {
			next = last + 1
		}
		if readCommitted {
			kept := pendingAborts[:0]
			for _, a := range pendingAborts {
				if a.FirstOffset <= last && a.ProducerID == b.ProducerID {
					activeAbort[a.ProducerID] = true
				} else {
					kept = append(kept, a)
				}
			}
			pendingAborts = kept
			if b.Attributes&0x20 != 0 {
				delete(activeAbort, b.ProducerID) // a marker ends the transaction
			}
		}
		if last < at || b.FirstOffset >= stop || b.NumRecords == 0 || b.Attributes&0x20 != 0 {
			continue // below us, past the stop, compacted to nothing, or a control batch
		}
		if readCommitted && b.Attributes&0x10 != 0 && activeAbort[b.ProducerID] {
			continue // aborted data
		}
		recs := b.Records
		if codec := kgo.CompressionCodecType(b.Attributes & 0x07); codec != 0 {
			d, err := probeDecompressor.Decompress(recs, codec)
			if err != nil {
				return true, next
			}
			recs = d
		}
		for i := int32(0); i < b.NumRecords; i++ {
			l, n := binary.Varint(recs)
			if n <= 0 || l < 0 || int64(len(recs)-n) < l {
				return true, next
			}
			body := recs[n : n+int(l)]
			recs = recs[n+int(l):]
			if len(body) < 1 {
				return true, next
			}
			body = body[1:]              // attributes
			_, n1 := binary.Varint(body) // timestamp delta
			if n1 <= 0 {
				return true, next
			}
			od, n2 := binary.Varint(body[n1:])
			if n2 <= 0 {
				return true, next
			}
			if off := b.FirstOffset + od; off >= at && off < stop {
				return true, next
			}
		}
	}
	return false, next
}
