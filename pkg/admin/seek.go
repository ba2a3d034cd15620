package admin

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/deimos-cli/deimos/pkg/consume"
	"github.com/deimos-cli/deimos/pkg/errs"
)

// SeekKind says where a seek moves a group.
type SeekKind string

// Seek targets.
const (
	SeekStart  SeekKind = "start"  // the log start of each partition
	SeekEnd    SeekKind = "end"    // the end: skip everything there now
	SeekOffset SeekKind = "offset" // an absolute offset, clamped to the log
	SeekTime   SeekKind = "time"   // the first record at or after a time
	SeekLast   SeekKind = "last"   // -N: the last N records of each partition
)

// SeekTo is a parsed --to value.
type SeekTo struct {
	Kind   SeekKind
	Offset int64     // SeekOffset: the offset; SeekLast: N
	At     time.Time // SeekTime
}

func (s SeekTo) String() string {
	switch s.Kind {
	case SeekOffset:
		return fmt.Sprintf("offset %d", s.Offset)
	case SeekLast:
		return fmt.Sprintf("the last %d", s.Offset)
	case SeekTime:
		return s.At.UTC().Format(time.RFC3339Nano)
	}
	return string(s.Kind)
}

// ParseSeekTo parses --to with the offset words of `deimos consume -o`:
// start (or beginning), end, OFFSET, -N (the last N of each partition),
// @RFC3339 or @UNIXMILLIS, -DURATION (now minus it, e.g. -2h), and also a
// bare RFC3339 time or date.
func ParseSeekTo(s string, now time.Time) (SeekTo, error) {
	o, err := consume.ParseOffset(s, now)
	if strings.TrimSpace(s) == "" {
		err = errors.New("empty")
	}
	if err != nil {
		var err2 error
		if o, err2 = consume.ParseOffset("@"+strings.TrimSpace(s), now); err2 != nil || strings.TrimSpace(s) == "" {
			return SeekTo{}, errs.Usagef("--to %q: use start, end, OFFSET, -N (the last N), a time (RFC3339, @UNIXMILLIS) or -DURATION (e.g. -1h)", s)
		}
	}
	switch o.Kind {
	case consume.OffsetBeginning:
		return SeekTo{Kind: SeekStart}, nil
	case consume.OffsetEnd:
		return SeekTo{Kind: SeekEnd}, nil
	case consume.OffsetExact:
		return SeekTo{Kind: SeekOffset, Offset: o.N}, nil
	case consume.OffsetLast:
		return SeekTo{Kind: SeekLast, Offset: o.N}, nil
	case consume.OffsetTime:
		return SeekTo{Kind: SeekTime, At: o.At}, nil
	}
	return SeekTo{}, errs.Usagef("--to %q: a seek needs start, end, OFFSET, -N or a time", s)
}

// ParseTime parses a time as `--at` takes it: RFC3339 (or a date), Unix
// milliseconds, -DURATION before now, each optionally prefixed with @.
func ParseTime(s string, now time.Time) (time.Time, error) {
	t := strings.TrimSpace(s)
	if o, err := consume.ParseOffset(t, now); err == nil && o.Kind == consume.OffsetTime {
		return o.At, nil
	}
	if !strings.HasPrefix(t, "@") && t != "" {
		if o, err := consume.ParseOffset("@"+t, now); err == nil && o.Kind == consume.OffsetTime {
			return o.At, nil
		}
	}
	return time.Time{}, errs.Usagef("time %q: use RFC3339 (2024-05-01T12:00:00Z), Unix milliseconds or -DURATION (e.g. -1h)", s)
}

// SeekRequest says which group to move, where, and over which partitions.
type SeekRequest struct {
	Group string
	To    SeekTo
	// Topics to move; none means every topic the group has committed to.
	Topics []string
	// Partitions limits the move to these partition numbers of each topic.
	Partitions []int32
	// DryRun computes and returns the plan without committing anything.
	DryRun bool
}

// SeekPlan is what a seek does (or, in a dry run, would do).
type SeekPlan struct {
	Group   string     `json:"group"`
	State   string     `json:"state"`
	To      string     `json:"to"`
	DryRun  bool       `json:"dry_run"`
	Applied bool       `json:"applied"`
	Members []Member   `json:"active_members"`
	Moves   []SeekMove `json:"partitions"`
}

// SeekMove is one partition of a seek: Current is the committed offset
// before it (-1 when none), Target the offset committed by it.
type SeekMove struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Current   int64  `json:"current"`
	Target    int64  `json:"target"`
	Start     int64  `json:"start"`
	End       int64  `json:"end"`
	Note      string `json:"note,omitempty"`
}

// ErrActiveMembers refuses a seek while the group has members: they would
// overwrite the new offsets with their own commits.
var ErrActiveMembers = errors.New("the group has active members")

// Seek computes new committed offsets for a group and commits them, unless
// DryRun. It refuses (exit 1, ErrActiveMembers, the plan still returned)
// while the group has members; Kafka itself refuses the commit if a member
// joins between the check and the commit.
func Seek(ctx context.Context, adm *kadm.Client, req SeekRequest) (*SeekPlan, error) {
	g := req.Group
	described, err := adm.DescribeGroups(ctx, g)
	if err == nil {
		if d, ok := described[g]; ok {
			err = d.Err
		}
	}
	d := described[g]
	if errors.Is(err, kerr.GroupIDNotFound) {
		// a group Kafka does not know yet: a seek with --topic creates its offsets
		err, d = nil, kadm.DescribedGroup{Group: g, State: "Dead"}
	}
	if err != nil {
		return nil, kafkaErr(err, "describe group "+g, ACL{"DESCRIBE", "group", g})
	}
	plan := &SeekPlan{Group: g, State: d.State, To: req.To.String(), DryRun: req.DryRun, Members: members(d.Members), Moves: []SeekMove{}}

	committed, err := adm.FetchOffsets(ctx, g)
	if errors.Is(err, kerr.GroupIDNotFound) {
		committed, err = kadm.OffsetResponses{}, nil
	}
	if err != nil {
		return nil, kafkaErr(err, "fetch the offsets of group "+g, ACL{"DESCRIBE", "group", g})
	}
	topics := req.Topics
	if len(topics) == 0 {
		for t := range committed {
			topics = append(topics, t)
		}
		sort.Strings(topics)
		if len(topics) == 0 {
			return nil, errs.Usagef("group %s has no committed offsets: name the topics to seek with --topic", g)
		}
	}
	td, err := adm.ListTopics(ctx, topics...)
	if err != nil {
		return nil, kafkaErr(err, "describe topics "+strings.Join(topics, ","), ACL{"DESCRIBE", "topic", strings.Join(topics, ",")})
	}
	for _, t := range topics {
		d, ok := td[t]
		if !ok || d.Err != nil {
			if ok && d.Err != nil && !errors.Is(d.Err, kerr.UnknownTopicOrPartition) {
				return nil, kafkaErr(d.Err, "describe topic "+t, ACL{"DESCRIBE", "topic", t})
			}
			return nil, errs.Failedf("kafka: topic %s does not exist", t)
		}
		if err := checkPartitions(t, d, req.Partitions); err != nil {
			return nil, err
		}
	}
	need := ACL{"DESCRIBE", "topic", strings.Join(topics, ",")}
	start, err := adm.ListStartOffsets(ctx, topics...)
	if err == nil {
		err = start.Error()
	}
	if err != nil {
		return nil, kafkaErr(err, "list offsets", need)
	}
	end, err := adm.ListEndOffsets(ctx, topics...)
	if err == nil {
		err = end.Error()
	}
	if err != nil {
		return nil, kafkaErr(err, "list offsets", need)
	}
	var byTime kadm.ListedOffsets
	if req.To.Kind == SeekTime {
		byTime, err = adm.ListOffsetsAfterMilli(ctx, req.To.At.UnixMilli(), topics...)
		if err == nil {
			err = byTime.Error()
		}
		if err != nil {
			return nil, kafkaErr(err, "list offsets by time", need)
		}
	}

	keep := partitionSet(req.Partitions)
	commit := kadm.Offsets{}
	for _, t := range topics {
		for _, p := range td[t].Partitions.Sorted() {
			if keep != nil && !keep[p.Partition] {
				continue
			}
			m := SeekMove{Topic: t, Partition: p.Partition, Current: -1}
			if c, ok := committed.Lookup(t, p.Partition); ok && c.Err == nil {
				m.Current = c.At
			}
			s, _ := start.Lookup(t, p.Partition)
			e, _ := end.Lookup(t, p.Partition)
			m.Start, m.End = s.Offset, e.Offset
			switch req.To.Kind {
			case SeekStart:
				m.Target = m.Start
			case SeekEnd:
				m.Target = m.End
			case SeekOffset:
				m.Target = req.To.Offset
			case SeekLast:
				m.Target = m.End - req.To.Offset
			case SeekTime:
				m.Target = m.End
				if o, ok := byTime.Lookup(t, p.Partition); ok && o.Err == nil && o.Offset >= 0 {
					m.Target = o.Offset
					if o.Timestamp < 0 {
						m.Note = "no record at or after the time: end"
					}
				}
			}
			if m.Target < m.Start {
				if req.To.Kind == SeekOffset {
					m.Note = fmt.Sprintf("offset %d is before the log start: clamped", req.To.Offset)
				}
				m.Target = m.Start
			}
			if m.Target > m.End {
				m.Note = fmt.Sprintf("offset %d is past the end: clamped", m.Target)
				m.Target = m.End
			}
			plan.Moves = append(plan.Moves, m)
			commit.Add(kadm.Offset{Topic: t, Partition: p.Partition, At: m.Target, LeaderEpoch: -1})
		}
	}

	if len(plan.Members) > 0 && !req.DryRun {
		ids := make([]string, len(plan.Members))
		for i, m := range plan.Members {
			ids[i] = m.ClientID + "@" + m.Host
		}
		return plan, errs.Failed(fmt.Errorf("kafka: refusing to seek group %s: %w (%d: %s); stop its consumers first (--dry-run shows the plan)",
			g, ErrActiveMembers, len(ids), strings.Join(ids, ", ")))
	}
	if req.DryRun {
		return plan, nil
	}
	if err := adm.CommitAllOffsets(ctx, g, commit); err != nil {
		if errors.Is(err, kerr.UnknownMemberID) || errors.Is(err, kerr.IllegalGeneration) || errors.Is(err, kerr.RebalanceInProgress) {
			return plan, errs.Failed(fmt.Errorf("kafka: seek of group %s refused by the broker: a member joined (%v); stop its consumers first", g, errName(err)))
		}
		return plan, kafkaErr(err, "commit offsets for group "+g, ACL{"READ", "group", g}, ACL{"READ", "topic", strings.Join(topics, ",")})
	}
	plan.Applied = true
	return plan, nil
}
