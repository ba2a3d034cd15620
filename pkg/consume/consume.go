package consume

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

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
		if err := decodeHandle(ctx, o, specs, recs, &st); err != nil {
			if ctx.Err() != nil {
				return st, nil
			}
			return st, err
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
		if bounded && len(pending) > 0 && len(recs) == 0 && fs.NumRecords() == 0 {
			// Idle: the tail of a partition may be compacted away or be
			// aborted data; ask the broker whether anything is left.
			if err := probeTails(ctx, adm, admCl, o, pending, pos, plan); err != nil && lastErr == nil {
				lastErr = err
			}
		}
	}
}
