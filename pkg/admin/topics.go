package admin

import (
	"context"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/deimos-cli/deimos/pkg/errs"
)

// Topic is one line of a topic listing.
type Topic struct {
	Name              string `json:"name"`
	Partitions        int    `json:"partitions"`
	ReplicationFactor int    `json:"replication_factor"`
	Internal          bool   `json:"internal"`
}

// TopicFilter selects topics for ListTopics.
type TopicFilter struct {
	// Regex keeps topics whose whole name matches one of these expressions
	// (as consume --regex does); none keeps every topic.
	Regex []string
	// Internal includes internal topics (__consumer_offsets and other
	// names starting with "__"), hidden otherwise.
	Internal bool
}

// IsInternal reports a topic Kafka or a framework keeps for itself.
func IsInternal(d kadm.TopicDetail) bool {
	return d.IsInternal || strings.HasPrefix(d.Topic, "__")
}

// CompileTopicRegex anchors each expression to the whole topic name.
func CompileTopicRegex(exprs []string) ([]*regexp.Regexp, error) {
	var res []*regexp.Regexp
	for _, e := range exprs {
		re, err := regexp.Compile("^(?:" + e + ")$")
		if err != nil {
			return nil, errs.Usagef("--regex %q: %w", e, err)
		}
		res = append(res, re)
	}
	return res, nil
}

// ListTopics lists the topics the principal may describe, sorted by name.
func ListTopics(ctx context.Context, adm *kadm.Client, f TopicFilter) ([]Topic, error) {
	res, err := CompileTopicRegex(f.Regex)
	if err != nil {
		return nil, err
	}
	td, err := adm.ListTopicsWithInternal(ctx)
	if err != nil {
		return nil, kafkaErr(err, "list topics", ACL{"DESCRIBE", "topic", "*"})
	}
	out := []Topic{}
	for _, d := range td.Sorted() {
		if d.Err != nil || (!f.Internal && IsInternal(d)) {
			continue
		}
		if len(res) > 0 && !matchAny(res, d.Topic) {
			continue
		}
		out = append(out, Topic{Name: d.Topic, Partitions: len(d.Partitions), ReplicationFactor: replication(d), Internal: IsInternal(d)})
	}
	return out, nil
}

func matchAny(res []*regexp.Regexp, s string) bool {
	for _, re := range res {
		if re.MatchString(s) {
			return true
		}
	}
	return false
}

func replication(d kadm.TopicDetail) int {
	n := 0
	for _, p := range d.Partitions {
		n = max(n, len(p.Replicas))
	}
	return n
}

// TopicDetail is `topic describe`: partitions with their replicas and
// watermarks, and the configs set on the topic.
type TopicDetail struct {
	Name              string            `json:"name"`
	ID                string            `json:"id,omitempty"`
	Internal          bool              `json:"internal"`
	ReplicationFactor int               `json:"replication_factor"`
	Partitions        []PartitionDetail `json:"partitions"`
	Configs           []ConfigEntry     `json:"configs"`
}

// PartitionDetail is one partition of a topic. Low is the log start
// offset, High the high watermark (the next offset to be written).
type PartitionDetail struct {
	Partition int32   `json:"partition"`
	Leader    int32   `json:"leader"`
	Epoch     int32   `json:"leader_epoch"`
	Replicas  []int32 `json:"replicas"`
	ISR       []int32 `json:"isr"`
	Offline   []int32 `json:"offline_replicas,omitempty"`
	Low       int64   `json:"low"`
	High      int64   `json:"high"`
	Error     string  `json:"error,omitempty"`
}

// ConfigEntry is one topic config. Source is Kafka's name for where the
// value comes from (DYNAMIC_TOPIC_CONFIG when set on the topic itself).
type ConfigEntry struct {
	Name      string `json:"name"`
	Value     string `json:"value"`
	Source    string `json:"source"`
	Sensitive bool   `json:"sensitive,omitempty"`
}

// DescribeTopic returns partitions, watermarks and the configs set on the
// topic (every config with allConfigs). A missing topic is exit 1.
func DescribeTopic(ctx context.Context, adm *kadm.Client, topic string, allConfigs bool) (*TopicDetail, error) {
	d, err := topicDetail(ctx, adm, topic)
	if err != nil {
		return nil, err
	}
	start, err := adm.ListStartOffsets(ctx, topic)
	if err == nil {
		err = start.Error()
	}
	if err != nil {
		return nil, kafkaErr(err, "list offsets of "+topic, ACL{"DESCRIBE", "topic", topic})
	}
	end, err := adm.ListEndOffsets(ctx, topic)
	if err == nil {
		err = end.Error()
	}
	if err != nil {
		return nil, kafkaErr(err, "list offsets of "+topic, ACL{"DESCRIBE", "topic", topic})
	}
	out := &TopicDetail{Name: d.Topic, Internal: IsInternal(d), ReplicationFactor: replication(d), Partitions: []PartitionDetail{}, Configs: []ConfigEntry{}}
	if d.ID != (kadm.TopicID{}) {
		out.ID = d.ID.String()
	}
	for _, p := range d.Partitions.Sorted() {
		pd := PartitionDetail{Partition: p.Partition, Leader: p.Leader, Epoch: p.LeaderEpoch, Replicas: ints(p.Replicas), ISR: ints(p.ISR), Offline: p.OfflineReplicas, Low: -1, High: -1}
		if p.Err != nil {
			pd.Error = errName(p.Err)
		}
		if o, ok := start.Lookup(topic, p.Partition); ok && o.Err == nil {
			pd.Low = o.Offset
		}
		if o, ok := end.Lookup(topic, p.Partition); ok && o.Err == nil {
			pd.High = o.Offset
		}
		out.Partitions = append(out.Partitions, pd)
	}
	rcs, err := adm.DescribeTopicConfigs(ctx, topic)
	if err != nil {
		return nil, kafkaErr(err, "describe configs of "+topic, ACL{"DESCRIBE_CONFIGS", "topic", topic})
	}
	rc, err := rcs.On(topic, nil)
	if err == nil {
		err = rc.Err
	}
	if err != nil {
		return nil, kafkaErr(err, "describe configs of "+topic, ACL{"DESCRIBE_CONFIGS", "topic", topic})
	}
	for _, c := range rc.Configs {
		if !allConfigs && c.Source != kmsg.ConfigSourceDynamicTopicConfig {
			continue
		}
		out.Configs = append(out.Configs, ConfigEntry{Name: c.Key, Value: c.MaybeValue(), Source: c.Source.String(), Sensitive: c.Sensitive})
	}
	sort.Slice(out.Configs, func(i, j int) bool { return out.Configs[i].Name < out.Configs[j].Name })
	return out, nil
}

func ints(s []int32) []int32 {
	if s == nil {
		return []int32{}
	}
	return s
}

// topicDetail reads one topic's metadata; a missing topic is exit 1.
func topicDetail(ctx context.Context, adm *kadm.Client, topic string) (kadm.TopicDetail, error) {
	td, err := adm.ListTopicsWithInternal(ctx, topic)
	if err != nil {
		return kadm.TopicDetail{}, kafkaErr(err, "describe topic "+topic, ACL{"DESCRIBE", "topic", topic})
	}
	d, ok := td[topic]
	if !ok || d.Err == kerr.UnknownTopicOrPartition {
		return kadm.TopicDetail{}, errs.Failedf("kafka: topic %s does not exist", topic)
	}
	if d.Err != nil {
		return kadm.TopicDetail{}, kafkaErr(d.Err, "describe topic "+topic, ACL{"DESCRIBE", "topic", topic})
	}
	return d, nil
}

// PartitionOffsets is one partition's offsets: its log start and end, and
// with a time the first offset whose record timestamp is at or after it.
type PartitionOffsets struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Start     int64  `json:"start"`
	End       int64  `json:"end"`
	// Offset is the first record at or after the time asked for, -1 when
	// no record is (as kcat -Q and Kafka's ListOffsets say); Timestamp is
	// that record's time in Unix milliseconds (-1 with no record).
	Offset    *int64 `json:"offset,omitempty"`
	Timestamp *int64 `json:"timestamp,omitempty"`
}

// TopicOffsets lists start and end offsets of each partition of topic
// (only those in partitions when given) and, with at, the offset for that
// time.
func TopicOffsets(ctx context.Context, adm *kadm.Client, topic string, partitions []int32, at *time.Time) ([]PartitionOffsets, error) {
	d, err := topicDetail(ctx, adm, topic)
	if err != nil {
		return nil, err
	}
	if err := checkPartitions(topic, d, partitions); err != nil {
		return nil, err
	}
	need := ACL{"DESCRIBE", "topic", topic}
	start, err := adm.ListStartOffsets(ctx, topic)
	if err == nil {
		err = start.Error()
	}
	if err != nil {
		return nil, kafkaErr(err, "list offsets of "+topic, need)
	}
	end, err := adm.ListEndOffsets(ctx, topic)
	if err == nil {
		err = end.Error()
	}
	if err != nil {
		return nil, kafkaErr(err, "list offsets of "+topic, need)
	}
	var byTime kadm.ListedOffsets
	if at != nil {
		byTime, err = adm.ListOffsetsAfterMilli(ctx, at.UnixMilli(), topic)
		if err == nil {
			err = byTime.Error()
		}
		if err != nil {
			return nil, kafkaErr(err, "list offsets of "+topic+" by time", need)
		}
	}
	keep := partitionSet(partitions)
	out := []PartitionOffsets{}
	for _, p := range d.Partitions.Sorted() {
		if keep != nil && !keep[p.Partition] {
			continue
		}
		po := PartitionOffsets{Topic: topic, Partition: p.Partition, Start: -1, End: -1}
		if o, ok := start.Lookup(topic, p.Partition); ok {
			po.Start = o.Offset
		}
		if o, ok := end.Lookup(topic, p.Partition); ok {
			po.End = o.Offset
		}
		if at != nil {
			off, ts := int64(-1), int64(-1)
			// kadm answers the end offset with timestamp -1 when no
			// record is at or after the time; report Kafka's -1.
			if o, ok := byTime.Lookup(topic, p.Partition); ok && o.Timestamp >= 0 {
				off, ts = o.Offset, o.Timestamp
			}
			po.Offset, po.Timestamp = &off, &ts
		}
		out = append(out, po)
	}
	return out, nil
}

func partitionSet(ps []int32) map[int32]bool {
	if len(ps) == 0 {
		return nil
	}
	m := map[int32]bool{}
	for _, p := range ps {
		m[p] = true
	}
	return m
}

// checkPartitions makes asking for a partition the topic lacks exit 2.
func checkPartitions(topic string, d kadm.TopicDetail, ps []int32) error {
	for _, p := range ps {
		if _, ok := d.Partitions[p]; !ok {
			return errs.Usagef("topic %s has no partition %d (it has %d: 0..%d)", topic, p, len(d.Partitions), len(d.Partitions)-1)
		}
	}
	return nil
}
