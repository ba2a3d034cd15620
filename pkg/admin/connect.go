// Package admin is the engine of the inspection and small admin commands
// (deimos topic, group and registry): topics and their offsets, consumer
// groups with their lag and seeks, and registry subjects. It drives
// franz-go's kadm and pkg/sr clients handed to it, takes a context, and
// never prints; errors carry their exit code (pkg/errs) and name the ACL or
// credentials at fault.
package admin

import (
	"context"
	"errors"
	"io"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/deimos-cli/deimos/pkg/config"
	"github.com/deimos-cli/deimos/pkg/errs"
	"github.com/deimos-cli/deimos/pkg/kafkaclient"
	"github.com/deimos-cli/deimos/pkg/registry"
)

// Kafka builds an admin client from the kafka config and checks within
// ctx that a broker answers: exit 3 naming the brokers when none does,
// exit 2 when the login is refused. Close it when done.
func Kafka(ctx context.Context, k config.Kafka, extra ...kgo.Opt) (*kadm.Client, error) {
	cl, err := kafkaclient.NewClient(k, extra...)
	if err != nil {
		return nil, err
	}
	if err := kafkaclient.Reach(ctx, k, cl.Ping); err != nil {
		cl.Close()
		if errors.Is(err, context.Canceled) || errs.KindOf(err) == errs.KindUsage {
			return nil, err // a TLS or SASL mismatch is named by the probe
		}
		if cerr := kafkaErr(err, "connect"); errs.KindOf(cerr) == errs.KindUsage {
			return nil, cerr
		}
		hint := ""
		if k.SASL.Mechanism != "" && errors.Is(err, io.EOF) {
			// brokers that refuse a SASL login may just hang up
			hint = " (the broker closed the connection: check kafka.sasl mechanism, username and password)"
		}
		return nil, errs.Unavailablef("kafka: cannot reach brokers %s: %w%s", strings.Join(k.Brokers, ","), err, hint)
	}
	return kadm.NewClient(cl), nil
}

// Registry builds the schema registry client; no URL configured is exit 2.
func Registry(r config.Registry) (*sr.Client, error) {
	cl, err := registry.New(r)
	if err != nil {
		return nil, err
	}
	if cl == nil {
		return nil, errs.Usagef("no schema registry configured: set --registry, DEIMOS_REGISTRY_URL or schema.registry.url")
	}
	return cl, nil
}

// DefaultTimeout bounds one inspection command, so that a broker that
// stops answering mid-way ends in exit 3 rather than a hang.
const DefaultTimeout = 30 * time.Second
