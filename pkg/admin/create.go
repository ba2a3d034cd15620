package admin

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/deimos-cli/deimos/pkg/config"
	"github.com/deimos-cli/deimos/pkg/errs"
)

// NewTopic is a topic to create. -1 partitions or replication factor
// leaves the choice to the broker's defaults.
type NewTopic struct {
	Name              string            `json:"name"`
	Partitions        int32             `json:"partitions"`
	ReplicationFactor int16             `json:"replication_factor"`
	Configs           map[string]string `json:"configs,omitempty"`
	// From says where a topic taken from the config file was declared.
	From string `json:"from,omitempty"`
}

// Create statuses.
const (
	StatusCreated     = "created"
	StatusWouldCreate = "would create" // dry run: the broker validated the request
	StatusExists      = "exists"
	StatusFailed      = "failed"
)

// CreateResult is the outcome for one topic.
type CreateResult struct {
	NewTopic
	Status string `json:"status"`
	Error  string `json:"error,omitempty"`
}

// CreateOptions tune CreateTopics.
type CreateOptions struct {
	DryRun       bool // validate on the broker, create nothing
	SkipExisting bool // an existing topic is reported, not an error
}

// CreateTopics creates each topic with its own partition count and
// configs. Results come back for every topic; the error says how many
// failed (exit 1), or is the first refused authorization (exit 2) or
// transport failure (exit 3).
func CreateTopics(ctx context.Context, adm *kadm.Client, topics []NewTopic, o CreateOptions) ([]CreateResult, error) {
	var out []CreateResult
	failed := 0
	for _, t := range topics {
		var cfg map[string]*string
		for k, v := range t.Configs {
			if cfg == nil {
				cfg = map[string]*string{}
			}
			cfg[k] = &v
		}
		var resp kadm.CreateTopicResponse
		var err error
		if o.DryRun {
			var rs kadm.CreateTopicResponses
			rs, err = adm.ValidateCreateTopics(ctx, t.Partitions, t.ReplicationFactor, cfg, t.Name)
			if err == nil {
				resp, err = rs.On(t.Name, nil)
			}
		} else {
			resp, err = adm.CreateTopic(ctx, t.Partitions, t.ReplicationFactor, cfg, t.Name)
		}
		if err == nil {
			err = resp.Err
		}
		r := CreateResult{NewTopic: t, Status: StatusCreated}
		if o.DryRun {
			r.Status = StatusWouldCreate
		}
		switch {
		case err == nil:
			if resp.NumPartitions > 0 {
				r.Partitions = resp.NumPartitions
			}
			if resp.ReplicationFactor > 0 {
				r.ReplicationFactor = resp.ReplicationFactor
			}
		case errors.Is(err, kerr.TopicAlreadyExists) && o.SkipExisting:
			r.Status = StatusExists
		default:
			cerr := kafkaErr(err, "create topic "+t.Name, ACL{"CREATE", "topic", t.Name})
			if errs.KindOf(cerr) != errs.KindFailed {
				return out, cerr
			}
			r.Status, r.Error = StatusFailed, errName(err)
			if resp.ErrMessage != "" {
				r.Error += ": " + resp.ErrMessage
			}
			failed++
		}
		out = append(out, r)
	}
	if failed > 0 {
		return out, errs.Failedf("kafka: %d of %d topic(s) could not be created", failed, len(topics))
	}
	return out, nil
}

// ConfigTopics lists the topics the config file produces to, with their
// full names (producers.topic_prefix added): every topics[] entry with the
// partitions, replication_factor and configs it names, then each poller's
// topic not listed there. Where the config names no partition count or
// replication factor, partitions and replication apply (-1: the broker's
// default).
func ConfigTopics(cfg *config.Config, partitions int32, replication int16) []NewTopic {
	seen := map[string]bool{}
	var out []NewTopic
	add := func(t NewTopic) {
		if t.Name == "" || seen[t.Name] {
			return
		}
		seen[t.Name] = true
		out = append(out, t)
	}
	for i, t := range cfg.Topics {
		nt := NewTopic{Name: cfg.Producers.TopicPrefix + t.Name, Partitions: partitions, ReplicationFactor: replication,
			Configs: t.Configs, From: fmt.Sprintf("topics[%d]", i)}
		if t.Partitions > 0 {
			nt.Partitions = int32(t.Partitions)
		}
		if t.ReplicationFactor > 0 {
			nt.ReplicationFactor = int16(t.ReplicationFactor)
		}
		add(nt)
	}
	for i, p := range cfg.Pollers {
		if p.Topic != "" {
			add(NewTopic{Name: cfg.Producers.TopicPrefix + p.Topic, Partitions: partitions, ReplicationFactor: replication, From: fmt.Sprintf("pollers[%d] (%s)", i, p.Name)})
		}
	}
	return out
}

// DeleteResult is the outcome for one topic or group.
type DeleteResult struct {
	Name   string `json:"name"`
	Status string `json:"status"` // deleted | failed
	Error  string `json:"error,omitempty"`
}

// DeleteTopics deletes topics. A topic that does not exist is a failure
// for that topic (exit 1); nothing is deleted when the principal may not
// describe one of them.
func DeleteTopics(ctx context.Context, adm *kadm.Client, topics []string) ([]DeleteResult, error) {
	rs, err := adm.DeleteTopics(ctx, topics...)
	if err != nil {
		return nil, kafkaErr(err, "delete topics "+strings.Join(topics, ","), deleteACLs(topics)...)
	}
	var out []DeleteResult
	failed := 0
	for _, t := range topics {
		r, err := rs.On(t, nil)
		if err == nil {
			err = r.Err
		}
		if err != nil {
			cerr := kafkaErr(err, "delete topic "+t, ACL{"DELETE", "topic", t})
			if errs.KindOf(cerr) != errs.KindFailed {
				return out, cerr
			}
			msg := errName(err)
			if errors.Is(err, kerr.UnknownTopicOrPartition) {
				msg = "no such topic"
			}
			out = append(out, DeleteResult{Name: t, Status: StatusFailed, Error: msg})
			failed++
			continue
		}
		out = append(out, DeleteResult{Name: t, Status: "deleted"})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	if failed > 0 {
		return out, errs.Failedf("kafka: %d of %d topic(s) could not be deleted", failed, len(topics))
	}
	return out, nil
}

func deleteACLs(topics []string) []ACL {
	var a []ACL
	for _, t := range topics {
		a = append(a, ACL{"DELETE", "topic", t})
	}
	return a
}
