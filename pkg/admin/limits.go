package admin

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// SizeLimit is the largest record batch a broker accepts for a topic, and
// where the figure comes from.
type SizeLimit struct {
	Bytes  int
	Source string // "topic orders max.message.bytes", "broker 1 message.max.bytes"
}

// MaxMessageBytes reads each topic's effective max.message.bytes (the
// topic's own setting or the broker default it inherits). A topic that
// does not exist yet gets the broker's message.max.bytes (what it would be
// created with).
func MaxMessageBytes(ctx context.Context, adm *kadm.Client, topics ...string) (map[string]SizeLimit, error) {
	out := map[string]SizeLimit{}
	rcs, err := adm.DescribeTopicConfigs(ctx, topics...)
	if err != nil {
		return nil, kafkaErr(err, "describe topic configs", ACL{"DESCRIBE_CONFIGS", "topic", "(each topic)"})
	}
	var missing []string
	for _, t := range topics {
		rc, err := rcs.On(t, nil)
		if err == nil {
			err = rc.Err
		}
		if errors.Is(err, kerr.UnknownTopicOrPartition) {
			missing = append(missing, t)
			continue
		}
		if err != nil {
			return nil, kafkaErr(err, "describe configs of "+t, ACL{"DESCRIBE_CONFIGS", "topic", t})
		}
		n, ok := configInt(rc.Configs, "max.message.bytes")
		if !ok {
			return nil, fmt.Errorf("topic %s: the broker did not report max.message.bytes", t)
		}
		out[t] = SizeLimit{Bytes: n, Source: "topic " + t + " max.message.bytes"}
	}
	if len(missing) == 0 {
		return out, nil
	}
	bcs, err := adm.DescribeBrokerConfigs(ctx)
	if err != nil {
		return nil, kafkaErr(err, "describe broker configs", ACL{"DESCRIBE_CONFIGS", "cluster", "kafka-cluster"})
	}
	for _, rc := range bcs {
		if rc.Err != nil {
			continue
		}
		if n, ok := configInt(rc.Configs, "message.max.bytes"); ok {
			for _, t := range missing {
				out[t] = SizeLimit{Bytes: n, Source: "broker " + rc.Name + " message.max.bytes (topic " + t + " does not exist)"}
			}
			return out, nil
		}
	}
	return nil, fmt.Errorf("topics %v do not exist and the brokers did not report message.max.bytes", missing)
}

func configInt(cs []kadm.Config, key string) (int, bool) {
	for _, c := range cs {
		if c.Key == key {
			n, err := strconv.Atoi(c.MaybeValue())
			return n, err == nil
		}
	}
	return 0, false
}
