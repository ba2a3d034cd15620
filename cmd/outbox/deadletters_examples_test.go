package outbox_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/deimos-cli/deimos/cmd/outbox"
	"github.com/deimos-cli/deimos/internal/cmdutil"
	"github.com/deimos-cli/deimos/internal/testenv"
	"github.com/deimos-cli/deimos/pkg/db"
	"github.com/deimos-cli/deimos/pkg/migrate"
)

// Every example of `outbox dead-letters ... --help` runs (in a shell,
// through the binary) against a database holding the dead letters they
// name and a cluster with their topic, and exits 0.
func TestDeadLettersHelpExamplesRun(t *testing.T) {
	if _, err := exec.LookPath("jq"); err != nil {
		testenv.Missing(t, "jq")
	}
	bin := t.TempDir()
	if err := os.Symlink(testenv.Binary(t), filepath.Join(bin, "deimos")); err != nil {
		t.Fatal(err)
	}
	root := outbox.NewCmd(cmdutil.TestFactory())
	dl, _, err := root.Find([]string{"dead-letters"})
	if err != nil {
		t.Fatal(err)
	}
	ran := 0
	for _, c := range dl.Commands() {
		if c.Example == "" {
			t.Errorf("outbox dead-letters %s has no examples", c.Name())
		}
		for _, line := range exampleLines(c) {
			t.Run(line, func(t *testing.T) {
				env := deadLetterFixture(t)
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				cmd := exec.CommandContext(ctx, "bash", "-c", "set -o pipefail; "+line)
				cmd.Env = append(os.Environ(), append(env, "DEIMOS_CONFIG=", "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"))...)
				out, err := cmd.CombinedOutput()
				if err != nil || len(strings.TrimSpace(string(out))) == 0 {
					t.Fatalf("%s: %v\n%s", line, err, out)
				}
			})
			ran++
		}
	}
	if ran < 8 {
		t.Fatalf("ran %d examples", ran)
	}
}

func exampleLines(c *cobra.Command) []string {
	var out []string
	for _, l := range strings.Split(c.Example, "\n") {
		if l = strings.TrimSpace(regexp.MustCompile(`\s+# .*$`).ReplaceAllString(l, "")); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// deadLetterFixture is a SQLite database with dead letters 41, 42 and 43
// (topic orders; 43 is 40 days old) and a cluster with topic orders.
func deadLetterFixture(t *testing.T) []string {
	t.Helper()
	ctx := context.Background()
	url := testenv.SQLiteURL(t)
	d, err := db.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := migrate.Up(ctx, d, []string{"outbox", "deadletter", "headers"}); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	for _, r := range []struct {
		id  int
		at  time.Time
		msg string
	}{{41, now.Add(-time.Hour), `{"id":41}`}, {42, now.Add(-time.Minute), `{"id":42}`}, {43, now.Add(-40 * 24 * time.Hour), `{"id":43}`}} {
		if _, err := d.ExecContext(ctx, `INSERT INTO deimos_dead_letters (id, topic, message, key, partition_key, error, original_id, created_at, headers)
			VALUES (?, 'orders', ?, 'k', 'pk', 'MESSAGE_TOO_LARGE', ?, ?, '{"trace":"t"}')`, r.id, []byte(r.msg), r.id, r.at.Format("2006-01-02 15:04:05.000000")); err != nil {
			t.Fatal(err)
		}
	}
	brokers := testenv.Brokers(t, 1, "orders")
	return []string{"DEIMOS_DB=" + url, "DEIMOS_BROKERS=" + brokers[0]}
}
