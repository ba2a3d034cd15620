package kafkaclient

import (
	"context"
	"crypto/tls"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/deimos-cli/deimos/pkg/config"
	"github.com/deimos-cli/deimos/pkg/errs"
)

// A client whose TLS or SASL settings disagree with the listener gets a
// configuration error (exit 2) saying which side speaks what, within
// seconds (the plain ping of a TLS client against a plaintext listener
// would wait for the whole timeout).
func TestProbeNamesTLSAndSASLMismatches(t *testing.T) {
	_, _, _, _, server := certs(t)
	cluster := func(opts ...kfake.Opt) []string {
		c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1)}, opts...)...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.Close)
		return c.ListenAddrs()
	}
	plain := cluster()
	withSASL := cluster(kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-256", "admin", "pw"))
	withTLS := cluster(kfake.TLS(&tls.Config{Certificates: []tls.Certificate{server}, MinVersion: tls.VersionTLS12}))

	tests := []struct {
		name    string
		brokers []string
		k       config.Kafka
		want    []string // in the error; nil: no error
	}{
		{"TLS client, plaintext listener", plain, config.Kafka{TLS: config.TLS{Enabled: true}},
			[]string{"speaks plaintext Kafka (no TLS)", "TLS is configured (kafka.tls)"}},
		{"SASL client, listener without SASL", plain, config.Kafka{SASL: config.SASL{Mechanism: "PLAIN", Username: "u", Password: "hunter2"}},
			[]string{"without SASL", "SASL is configured (kafka.sasl mechanism PLAIN)"}},
		{"client without SASL, SASL listener", withSASL, config.Kafka{},
			[]string{"requires SASL", "SCRAM-SHA-256", "no SASL is configured"}},
		{"client without TLS, TLS listener", withTLS, config.Kafka{},
			[]string{"speaks TLS", "TLS is not configured"}},
		{"matching: plaintext", plain, config.Kafka{}, nil},
		{"matching: SASL (a wrong password is the client's to report)", withSASL, config.Kafka{SASL: config.SASL{Mechanism: "SCRAM-SHA-256", Username: "admin", Password: "nope"}}, nil},
		{"matching: TLS", withTLS, config.Kafka{TLS: config.TLS{InsecureSkipVerify: true}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := tt.k
			k.Brokers, k.ClientID, k.Partitioner = tt.brokers, "t", "crc32"
			cl, err := NewClient(k)
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			start := time.Now()
			err = Ping(ctx, cl, k)
			took := time.Since(start)
			if tt.want == nil {
				if err != nil && errs.KindOf(err) == errs.KindUsage {
					t.Fatalf("a matching listener reported as a mismatch: %v", err)
				}
				return
			}
			if err == nil || errs.ExitCode(err) != errs.CodeUsage {
				t.Fatalf("err = %v (exit %d), want a configuration error", err, errs.ExitCode(err))
			}
			for _, w := range append(tt.want, tt.brokers[0]) {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q: %v", w, err)
				}
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Fatalf("password in the error: %v", err)
			}
			if took > 10*time.Second {
				t.Fatalf("took %s to say so", took)
			}
		})
	}
}

// The probe also works when the broker list starts with a dead address.
func TestProbeSkipsDeadBrokers(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	k := config.Kafka{Brokers: append([]string{"127.0.0.1:1"}, c.ListenAddrs()...), TLS: config.TLS{Enabled: true}}
	if err := Probe(context.Background(), k); err == nil || !strings.Contains(err.Error(), c.ListenAddrs()[0]) {
		t.Fatalf("Probe = %v", err)
	}
}
