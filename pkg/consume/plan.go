package consume

import (
	"context"
	"errors"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/deimos-cli/deimos/pkg/db"
	"github.com/deimos-cli/deimos/pkg/errs"
	"github.com/deimos-cli/deimos/pkg/progress"
)

// Planning: which topics and partitions to read, and where each starts
// and stops (the offsets of -o/--until resolved against the cluster).

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
