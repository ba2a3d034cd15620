package admin

import (
	"context"
	"errors"
	"sort"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/deimos-cli/deimos/pkg/errs"
)

// GroupLag is where a consumer group stands: its members and what they
// were assigned, and per partition the committed offset, the end offset
// and the lag between them. `deimos group describe` prints it; the lag
// command and the consumer_lag metric read the same value from Lags.
type GroupLag struct {
	Group        string         `json:"group"`
	State        string         `json:"state"` // Empty, Stable, PreparingRebalance, Dead...
	ProtocolType string         `json:"protocol_type"`
	Protocol     string         `json:"protocol"` // the assignor
	Coordinator  int32          `json:"coordinator"`
	Members      []Member       `json:"members"`
	Partitions   []PartitionLag `json:"partitions"`
	// TotalLag sums the lag of partitions whose lag is known.
	TotalLag int64 `json:"total_lag"`
	// Err is this group's own error (describing it or fetching its offsets).
	Err error `json:"-"`
}

// Member is one member of a group and its assignment.
type Member struct {
	ID         string            `json:"member_id"`
	InstanceID string            `json:"instance_id,omitempty"`
	ClientID   string            `json:"client_id"`
	Host       string            `json:"host"`
	Assigned   []TopicPartitions `json:"assigned"`
}

// TopicPartitions is a topic and some of its partitions.
type TopicPartitions struct {
	Topic      string  `json:"topic"`
	Partitions []int32 `json:"partitions"`
}

// PartitionLag is one partition of a group. Committed is -1 when the
// group has not committed there (the lag then counts from the log start);
// Lag is -1 when it cannot be known (Error says why).
type PartitionLag struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Committed int64  `json:"committed"`
	Start     int64  `json:"start"`
	End       int64  `json:"end"`
	Lag       int64  `json:"lag"`
	MemberID  string `json:"member_id,omitempty"`
	ClientID  string `json:"client_id,omitempty"`
	Host      string `json:"host,omitempty"`
	Error     string `json:"error,omitempty"`
}

// ErrNoGroup is returned by Lag for a group the cluster does not know:
// no members and no committed offsets.
var ErrNoGroup = errors.New("group does not exist")

// Active reports whether the group has members (a seek or delete would
// fight them).
func (g *GroupLag) Active() bool { return len(g.Members) > 0 }

// Lags computes GroupLag for each group, sorted by name, with kadm's lag
// calculation (committed, log start and end offsets of every assigned or
// committed partition). A group that cannot be described carries its own
// Err; a refused authorization or unreachable broker fails the call.
func Lags(ctx context.Context, adm *kadm.Client, groups ...string) ([]GroupLag, error) {
	need := make([]ACL, 0, len(groups)+1)
	for _, g := range groups {
		need = append(need, ACL{"DESCRIBE", "group", g})
	}
	need = append(need, ACL{"DESCRIBE", "topic", "(each topic the group reads)"})
	described, err := adm.Lag(ctx, groups...)
	if err != nil {
		return nil, kafkaErr(err, "describe groups", need...)
	}
	out := make([]GroupLag, 0, len(described))
	for _, d := range described.Sorted() {
		out = append(out, convertLag(d))
	}
	return out, nil
}

// Lag is Lags for one group; a group the cluster does not know is
// ErrNoGroup (exit 1).
func Lag(ctx context.Context, adm *kadm.Client, group string) (*GroupLag, error) {
	ls, err := Lags(ctx, adm, group)
	if err != nil {
		return nil, err
	}
	for i := range ls {
		if ls[i].Group != group {
			continue
		}
		g := &ls[i]
		if errors.Is(g.Err, kerr.GroupIDNotFound) {
			return nil, errs.Failed(&groupError{group, ErrNoGroup})
		}
		if g.Err != nil {
			return nil, kafkaErr(g.Err, "describe group "+group, ACL{"DESCRIBE", "group", group})
		}
		if (g.State == "Dead" || g.State == "") && len(g.Members) == 0 && len(g.Partitions) == 0 {
			return nil, errs.Failed(&groupError{group, ErrNoGroup})
		}
		return g, nil
	}
	return nil, errs.Failed(&groupError{group, ErrNoGroup})
}

type groupError struct {
	group string
	err   error
}

func (e *groupError) Error() string { return "kafka: group " + e.group + ": " + e.err.Error() }
func (e *groupError) Unwrap() error { return e.err }

func convertLag(d kadm.DescribedGroupLag) GroupLag {
	g := GroupLag{Group: d.Group, State: d.State, ProtocolType: d.ProtocolType, Protocol: d.Protocol,
		Coordinator: d.Coordinator.NodeID, Members: members(d.Members), Partitions: []PartitionLag{}, Err: d.Error()}
	for _, l := range d.Lag.Sorted() {
		p := PartitionLag{Topic: l.Topic, Partition: l.Partition, Committed: l.Commit.At, Start: -1, End: -1, Lag: l.Lag}
		if l.Start.Err == nil {
			p.Start = l.Start.Offset
		}
		if l.End.Err == nil {
			p.End = l.End.Offset
		}
		if l.Member != nil {
			p.MemberID, p.ClientID, p.Host = l.Member.MemberID, l.Member.ClientID, l.Member.ClientHost
		}
		if l.Err != nil {
			p.Error = errName(l.Err)
		} else if p.Lag > 0 {
			g.TotalLag += p.Lag
		}
		g.Partitions = append(g.Partitions, p)
	}
	return g
}

func members(ms []kadm.DescribedGroupMember) []Member {
	out := []Member{}
	for _, m := range ms {
		mm := Member{ID: m.MemberID, ClientID: m.ClientID, Host: m.ClientHost, Assigned: []TopicPartitions{}}
		if m.InstanceID != nil {
			mm.InstanceID = *m.InstanceID
		}
		if c, ok := m.Assigned.AsConsumer(); ok {
			for _, t := range c.Topics {
				ps := append([]int32(nil), t.Partitions...)
				sort.Slice(ps, func(i, j int) bool { return ps[i] < ps[j] })
				mm.Assigned = append(mm.Assigned, TopicPartitions{Topic: t.Topic, Partitions: ps})
			}
			sort.Slice(mm.Assigned, func(i, j int) bool { return mm.Assigned[i].Topic < mm.Assigned[j].Topic })
		}
		out = append(out, mm)
	}
	return out
}
