// Package kafkaclient turns the config's kafka block into franz-go options:
// brokers, client id, SASL, TLS and the partitioner. Every command that talks
// to brokers builds its client here, so these options live in one place.
package kafkaclient

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/deimos-cli/deimos/pkg/config"
	"github.com/deimos-cli/deimos/pkg/errs"
	"github.com/deimos-cli/deimos/pkg/tlsconf"
)

// Opts returns the base options for a client (producer or consumer).
// Callers append their own (groups, topics, acks, linger...).
func Opts(k config.Kafka) ([]kgo.Opt, error) {
	if len(k.Brokers) == 0 {
		return nil, errs.Usagef("kafka: no brokers configured (use -b, DEIMOS_BROKERS or kafka.brokers)")
	}
	opts := []kgo.Opt{
		kgo.SeedBrokers(k.Brokers...),
		kgo.ClientID(k.ClientID),
	}
	part, err := Partitioner(k.Partitioner)
	if err != nil {
		return nil, errs.Usage(err)
	}
	opts = append(opts, kgo.RecordPartitioner(part))
	dial := 10 * time.Second
	if k.DialTimeout > 0 {
		dial = k.DialTimeout.D()
	}
	opts = append(opts, kgo.DialTimeout(dial))
	if k.RequestTimeout > 0 {
		opts = append(opts, kgo.RequestTimeoutOverhead(k.RequestTimeout.D()))
	}
	if k.SessionTimeout > 0 {
		opts = append(opts, kgo.SessionTimeout(k.SessionTimeout.D()))
	}
	tc, err := tlsconf.Build(k.TLS)
	if err != nil {
		return nil, errs.Usagef("kafka.%w", err)
	}
	if tc != nil {
		opts = append(opts, kgo.Dialer((&tls.Dialer{NetDialer: &net.Dialer{Timeout: dial}, Config: tc}).DialContext))
	}
	if k.SASL.Mechanism != "" {
		s := k.SASL
		switch strings.ToUpper(s.Mechanism) {
		case "PLAIN":
			opts = append(opts, kgo.SASL(plain.Auth{User: s.Username, Pass: s.Password}.AsMechanism()))
		case "SCRAM-SHA-256":
			opts = append(opts, kgo.SASL(scram.Auth{User: s.Username, Pass: s.Password}.AsSha256Mechanism()))
		case "SCRAM-SHA-512":
			opts = append(opts, kgo.SASL(scram.Auth{User: s.Username, Pass: s.Password}.AsSha512Mechanism()))
		default:
			return nil, errs.Usagef("kafka.sasl.mechanism: unsupported %q", s.Mechanism)
		}
	}
	return opts, nil
}

// NewClient builds a client from the config plus extra options.
func NewClient(k config.Kafka, extra ...kgo.Opt) (*kgo.Client, error) {
	opts, err := Opts(k)
	if err != nil {
		return nil, err
	}
	cl, err := kgo.NewClient(append(opts, extra...)...)
	if err != nil {
		return nil, errs.Usagef("kafka client: %w", err)
	}
	return cl, nil
}

// Ping checks that at least one broker answers within ctx; the error is
// marked Unavailable (exit 3) and names the brokers, never credentials. A
// broker that speaks differently from k (TLS, SASL) is named at once as a
// configuration error (exit 2): see Probe.
func Ping(ctx context.Context, cl *kgo.Client, k config.Kafka) error {
	return Reach(ctx, k, func(ctx context.Context) error { return PingBrokers(ctx, cl, k.Brokers) })
}

// PingBrokers is Ping without the probe, for checks repeated while a
// job runs (readiness), after the first Ping passed.
func PingBrokers(ctx context.Context, cl *kgo.Client, brokers []string) error {
	if err := cl.Ping(ctx); err != nil {
		return errs.Unavailablef("kafka: cannot reach brokers %s: %w", strings.Join(brokers, ","), err)
	}
	return nil
}

// PartitionCounts returns the number of partitions per topic (missing topics are absent).
func PartitionCounts(ctx context.Context, cl *kgo.Client, topics ...string) (map[string]int, error) {
	adm := kadm.NewClient(cl)
	md, err := adm.Metadata(ctx, topics...)
	if err != nil {
		return nil, err
	}
	out := map[string]int{}
	for _, t := range md.Topics {
		if t.Err == nil {
			out[t.Topic] = len(t.Partitions)
		}
	}
	return out, nil
}

// Describe is a one-line description for logs: brokers and mechanism, no secrets.
func Describe(k config.Kafka) string {
	s := fmt.Sprintf("brokers=%s", strings.Join(k.Brokers, ","))
	if k.SASL.Mechanism != "" {
		s += " sasl=" + strings.ToUpper(k.SASL.Mechanism)
	}
	if k.TLS.On() {
		s += " tls=on"
	}
	return s
}
