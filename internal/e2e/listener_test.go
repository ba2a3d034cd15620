package e2e_test

import (
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/deimos-cli/deimos/internal/testenv"
)

// TLS or SASL configured against a plaintext listener (and SASL missing
// against a listener that requires it) is named by every command that
// talks to brokers, as a configuration error (exit 2), within seconds:
// before, TLS waited out the 30 s timeout and SASL ended in a bare EOF.
func TestListenerMismatchNamedByEveryCommand(t *testing.T) {
	plain := testenv.KafkaWith(t, kfake.NumBrokers(1), kfake.AllowAutoTopicCreation(), kfake.SeedTopics(1, "t")).ListenAddrs()[0]
	sasl := testenv.KafkaWith(t, kfake.NumBrokers(1), kfake.EnableSASL(), kfake.Superuser("PLAIN", "admin", "pw")).ListenAddrs()[0]
	dir := t.TempDir()
	db := testenv.SQLiteURL(t)
	if r := run(t, dir, []string{"DEIMOS_DB=" + db}, "", "migrate", "up", "--only", "outbox"); r.code != 0 {
		t.Fatalf("migrate: %s", r.all())
	}
	commands := [][]string{
		{"produce", "-t", "t"},
		{"consume", "-t", "t", "-e"},
		{"topic", "list"},
		{"group", "list"},
		{"outbox", "run", "--once"},
	}
	cases := []struct {
		name   string
		broker string
		cfg    map[string]any
		env    []string
		want   string
	}{
		{"TLS configured, plaintext listener", plain, map[string]any{"kafka": map[string]any{"tls": map[string]any{"enabled": true}}}, nil,
			"speaks plaintext Kafka (no TLS), but TLS is configured (kafka.tls)"},
		{"SASL configured, plaintext listener", plain, map[string]any{}, []string{"DEIMOS_SASL_MECHANISM=PLAIN", "DEIMOS_SASL_USERNAME=u", "DEIMOS_SASL_PASSWORD=hunter2"},
			"speaks plaintext Kafka without SASL authentication, but SASL is configured"},
		{"no SASL, SASL listener", sasl, map[string]any{}, nil,
			"requires SASL (it offers PLAIN"},
	}
	for _, c := range cases {
		for _, args := range commands {
			t.Run(c.name+"/"+strings.Join(args, " "), func(t *testing.T) {
				d := t.TempDir()
				writeConfig(t, d, c.cfg)
				env := append([]string{"DEIMOS_BROKERS=" + c.broker, "DEIMOS_DB=" + db}, c.env...)
				start := time.Now()
				r := run(t, d, env, "{\"a\":1}\n", args...)
				took := time.Since(start)
				if r.code != 2 || !strings.Contains(r.err, c.want) || !strings.Contains(r.err, c.broker) {
					t.Fatalf("exit %d, stderr %q; want exit 2 and %q", r.code, r.err, c.want)
				}
				if strings.Contains(r.all(), "hunter2") {
					t.Fatalf("password printed: %s", r.all())
				}
				if took > 10*time.Second {
					t.Fatalf("took %s", took)
				}
			})
		}
	}
}
