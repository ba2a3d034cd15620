package events_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/deimos-cli/deimos/internal/testenv"
)

// runEnv runs the binary in dir with extra environment variables.
func runEnv(t *testing.T, dir string, env []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary(t), args...)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), "DEIMOS_CONFIG="), env...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run %v: %v", args, err)
	}
	return result{o.String(), e.String(), code}
}

// A header value with a NUL byte and a 200 KiB key cannot be environment
// variables; they used to keep the handler from starting, and with the
// default --max-retries -1 the partition never advanced. Now every message
// reaches the handler, with its full metadata in $DEIMOS_METADATA.
func TestExecHandlerGetsMessagesEnvCannotHold(t *testing.T) {
	brokers := testenv.Brokers(t, 1, "odd")
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.DefaultProduceTopic("odd"))
	if err != nil {
		t.Fatal(err)
	}
	bigKey := strings.Repeat("k", 200<<10)
	recs := []*kgo.Record{
		{Key: []byte("k0"), Value: []byte(`{"n":0}`), Headers: []kgo.RecordHeader{{Key: "trace", Value: []byte("a\x00b")}}},
		{Key: []byte(bigKey), Value: []byte(`{"n":1}`)},
		{Key: []byte("k2"), Value: []byte(`{"n":2}`)},
	}
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	cl.Close()
	dir := t.TempDir()
	handler := `cat "$DEIMOS_METADATA" >> metas.jsonl; echo >> metas.jsonl; echo "$DEIMOS_OFFSET ${DEIMOS_OMITTED-}" >> runs.log`
	r := run(t, dir, "-b", strings.Join(brokers, ","), "consume", "-t", "odd", "-g", "odd", "-e", "--exec", handler)
	if r.code != 0 {
		t.Fatalf("consume: %d %s", r.code, r.err)
	}
	if runs, _ := os.ReadFile(filepath.Join(dir, "runs.log")); string(runs) != "0 DEIMOS_HEADER_TRACE\n1 DEIMOS_KEY\n2 \n" {
		t.Fatalf("handler runs: %q (stderr %s)", runs, r.err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "metas.jsonl"))
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d metadata documents", len(lines))
	}
	var m0, m1 struct {
		Offset  int64   `json:"offset"`
		Key     *string `json:"key"`
		Headers []struct {
			Key   string  `json:"key"`
			Value *string `json:"value"`
		} `json:"headers"`
	}
	if err := json.Unmarshal([]byte(lines[0]), &m0); err != nil || len(m0.Headers) != 1 || m0.Headers[0].Key != "trace" || *m0.Headers[0].Value != "a\x00b" {
		t.Fatalf("metadata 0: %v %s", err, lines[0])
	}
	if err := json.Unmarshal([]byte(lines[1]), &m1); err != nil || m1.Offset != 1 || m1.Key == nil || *m1.Key != bigKey {
		t.Fatalf("metadata 1: %v (%d bytes)", err, len(lines[1]))
	}
}

// Handlers get an allow-listed environment: deimos's database URL, SASL
// password and tokens are not visible to them, in consume --exec and in
// events retry; --pass-env passes a named variable on. On every database,
// with the database password (PostgreSQL, MySQL) in DEIMOS_DB; neither the
// handlers nor deimos's own output show it.
func TestExecHandlerDoesNotSeeSecrets(t *testing.T) { dialects(t, testExecHandlerDoesNotSeeSecrets) }

func testExecHandlerDoesNotSeeSecrets(t *testing.T, dl testenv.Dialect) {
	brokers := testenv.Brokers(t, 1, "orders")
	produce(t, brokers, "orders", "o1", `{"n":2}`)
	dir := t.TempDir()
	url := dl.URL(t)
	switch dl.Name {
	case "postgres": // trust authentication: the password is sent and ignored
		url = strings.Replace(url, "postgres://postgres@", "postgres://postgres:pg-SECRET-5@", 1)
	case "mysql":
		url = testenv.MariaDBUser(t, url, "my-SECRET-5")
	}
	d, _ := failureDB(t, url) // creates the checkpoint tables (and one unrelated failure)
	env := []string{"DEIMOS_DB=" + url, "DEIMOS_SASL_PASSWORD=sasl-SECRET-1", "DEIMOS_EVENTS_TOKEN=tok-SECRET-2",
		"DEIMOS_REGISTRY_PASSWORD=sr-SECRET-3", "AWS_SECRET_ACCESS_KEY=aws-SECRET-4", "RAILS_ENV=test"}
	// The handler fails (after dumping its environment), so the message
	// becomes a failure that events retry then runs.
	r := runEnv(t, dir, env, "--log-level", "debug", "-b", strings.Join(brokers, ","), "consume", "-t", "orders", "-g", "billing", "-e",
		"--exec", `env > consume.env; exit 1`, "--checkpoint", "--max-retries", "0", "--pass-env", "RAILS_ENV")
	if r.code != 0 {
		t.Fatalf("consume: %d %s", r.code, r.err)
	}
	out := dump(t, d, "SELECT id FROM phobos_db_checkpoint_failures WHERE topic = 'orders' AND group_id = 'billing' AND error_message <> 'boom'")
	if len(out) != 1 {
		t.Fatalf("failure rows: %v (%s)", out, r.err)
	}
	r2 := runEnv(t, dir, env, "--log-level", "debug", "events", "retry", out[0], "--exec", `env > retry.env`)
	if r2.code != 0 {
		t.Fatalf("events retry: %d %s", r2.code, r2.err)
	}
	if all := r.out + r.err + r2.out + r2.err; strings.Contains(all, "SECRET") {
		t.Fatalf("deimos printed a secret:\n%s", all)
	}
	for _, f := range []string{"consume.env", "retry.env"} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		got := string(b)
		if strings.Contains(got, "SECRET") || strings.Contains(got, "DEIMOS_DB=") || strings.Contains(got, url) {
			t.Fatalf("%s: the handler saw deimos's secrets:\n%s", f, got)
		}
		if !strings.Contains(got, "\nPATH=") && !strings.HasPrefix(got, "PATH=") || !strings.Contains(got, "DEIMOS_TOPIC=orders") || !strings.Contains(got, "DEIMOS_METADATA=") {
			t.Fatalf("%s: missing PATH or message variables:\n%s", f, got)
		}
		if f == "consume.env" && !strings.Contains(got, "RAILS_ENV=test") {
			t.Fatalf("--pass-env RAILS_ENV not passed:\n%s", got)
		}
		if f == "retry.env" && strings.Contains(got, "RAILS_ENV") {
			t.Fatalf("events retry passed RAILS_ENV without --pass-env:\n%s", got)
		}
	}
}
