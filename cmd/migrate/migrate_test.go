package migrate_test

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"

	"github.com/deimos-cli/deimos/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func exitCode(err error) int {
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

// migrate up / status / sql from the binary, on each database:
// outputs, idempotence, usage errors.
func TestMigrateCommands(t *testing.T) {
	for _, dl := range testenv.Dialects(t) {
		t.Run(dl.Name, func(t *testing.T) { testMigrateCommands(t, dl.URL(t)) })
	}
}

func testMigrateCommands(t *testing.T, url string) {
	bin := testenv.Binary(t)
	run := func(args ...string) (string, string, int) {
		t.Helper()
		cmd := exec.Command(bin, args...)
		var out, errb strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		return out.String(), errb.String(), exitCode(err)
	}
	out, _, code := run("migrate", "status", "--db", url)
	if code != 0 || !strings.Contains(out, "outbox/kafka_messages") || !strings.Contains(out, "pending") {
		t.Fatalf("status before up (%d):\n%s", code, out)
	}
	out, _, code = run("migrate", "up", "--only", "outbox", "--db", url)
	if code != 0 || out != "created outbox/kafka_messages\ncreated outbox/kafka_topic_info\n" {
		t.Fatalf("up --only outbox (%d):\n%s", code, out)
	}
	out, _, code = run("migrate", "up", "--db", url)
	if code != 0 || strings.Contains(out, "outbox/") || !strings.Contains(out, "created deadletter/deimos_dead_letters") || !strings.Contains(out, "created poller/deimos_poll_info") {
		t.Fatalf("up (%d):\n%s", code, out)
	}
	out, errOut, code := run("migrate", "up", "--db", url)
	if code != 0 || out != "" || !strings.Contains(errOut, "up to date") {
		t.Fatalf("second up (%d): %q %q", code, out, errOut)
	}
	out, _, code = run("migrate", "status", "--db", url, "-o", "json")
	var sts []struct {
		Name    string `json:"name"`
		Applied bool   `json:"applied"`
		Adopted bool   `json:"adopted"`
		Present bool   `json:"present"`
		OptIn   bool   `json:"opt_in"`
	}
	if err := json.Unmarshal([]byte(out), &sts); err != nil || code != 0 {
		t.Fatalf("status json (%d): %v\n%s", code, err, out)
	}
	for _, s := range sts {
		if s.OptIn != (s.Name == "headers/kafka_messages.headers") || s.Applied == s.OptIn || s.Applied != s.Present || s.Adopted {
			t.Errorf("status %+v", s)
		}
	}
	out, _, _ = run("migrate", "status", "--db", url)
	if !strings.Contains(out, "applied") || !strings.Contains(out, "not applied (opt-in)") {
		t.Errorf("status text:\n%s", out)
	}
	// sql: per dialect, no database needed
	out, _, code = run("migrate", "sql", "--dialect", "mysql", "--only", "outbox")
	if code != 0 || !strings.Contains(out, "`message` mediumblob") || !strings.Contains(out, "CREATE UNIQUE INDEX `index_kafka_topic_info_on_topic`") {
		t.Errorf("sql mysql (%d):\n%s", code, out)
	}
	out, _, code = run("migrate", "sql", "--dialect", "postgres")
	if code != 0 || !strings.Contains(out, `"message" bytea`) || !strings.Contains(out, `"error" boolean DEFAULT FALSE NOT NULL`) || strings.Contains(out, `ALTER TABLE "kafka_messages" ADD COLUMN "headers"`) ||
		!strings.Contains(out, `ALTER TABLE "deimos_dead_letters" ADD COLUMN "headers" text`) {
		t.Errorf("sql postgres (%d):\n%s", code, out)
	}
	// usage errors: exit 2 with one line naming the fault
	for _, args := range [][]string{
		{"migrate", "sql", "--dialect", "oracle"},
		{"migrate", "up", "--only", "nope", "--db", url},
		{"migrate", "status", "--db", url, "-o", "yaml"},
	} {
		_, errOut, code := run(args...)
		if code != 2 || strings.Count(strings.TrimSpace(errOut), "\n") > 0 {
			t.Errorf("%v: exit %d, stderr %q", args, code, errOut)
		}
	}
	// an unreachable database is exit 3 and the password never shows
	for _, dead := range []string{"postgres://app:Sup3rSecret@127.0.0.1:1/app?connect_timeout=2", "mysql://app:Sup3rSecret@127.0.0.1:1/app?timeout=2s", "app:Sup3rSecret@tcp(127.0.0.1:1)/app?timeout=2s"} {
		_, errOut, code = run("migrate", "status", "--db", dead)
		if code != 3 || strings.Contains(errOut, "Sup3rSecret") {
			t.Errorf("unreachable db: exit %d, %q", code, errOut)
		}
	}
}
