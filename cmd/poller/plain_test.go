package poller_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/deimos-cli/deimos/internal/testenv"
	"github.com/deimos-cli/deimos/pkg/db"
	"github.com/deimos-cli/deimos/pkg/migrate"
)

// A poller on a topic with backend plain sends each row's string form: the
// same rule (encode.StringForm) as produce and encode use for plain. A row is
// a hash of columns, so its string form is compact JSON with sorted keys and
// no HTML escaping; key_config plain sends the id column's value. kcat
// (librdkafka) reads the exact bytes.
func TestPollerPlainBackendBytes(t *testing.T) {
	kcat, err := exec.LookPath("kcat")
	if err != nil {
		testenv.Missing(t, "kcat")
	}
	bin := testenv.Binary(t)
	dir := t.TempDir()
	url := "sqlite:" + filepath.Join(dir, "t.db")
	ctx := context.Background()
	d, err := db.OpenOrCreate(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := migrate.Up(ctx, d, []string{"poller"}); err != nil {
		t.Fatal(err)
	}
	mustExec(t, d.DB, `CREATE TABLE widgets (id INTEGER PRIMARY KEY, name TEXT, qty INTEGER, updated_at DATETIME)`)
	mustExec(t, d.DB, `INSERT INTO widgets VALUES (1, 'a <b> & "c"', 3, '2024-01-01 00:00:00'), (2, 'plain', NULL, '2024-01-01 00:00:01')`)
	brokers := testenv.Brokers(t, 1, "widgets")
	cfgPath := filepath.Join(dir, "deimos.yaml")
	cfg := fmt.Sprintf(`kafka: {brokers: [%s]}
database: {url: "%s"}
topics:
  - {name: widgets, backend: plain, key_config: {plain: true}}
pollers:
  - {name: P, table: widgets, topic: widgets, delay: 0}
`, brokers[0], url)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--config", cfgPath, "poller", "run", "--once")
	cmd.Env = append(os.Environ(), "DEIMOS_CONFIG=")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("poller run --once: %v\n%s", err, out)
	}
	out, err := exec.Command(kcat, "-b", brokers[0], "-C", "-t", "widgets", "-e", "-q", "-f", `%k|%s\n`).CombinedOutput()
	if err != nil {
		t.Fatalf("kcat -C: %v %s", err, out)
	}
	want := `1|{"id":1,"name":"a <b> & \"c\"","qty":3,"updated_at":"2024-01-01T00:00:00Z"}` + "\n" +
		`2|{"id":2,"name":"plain","qty":null,"updated_at":"2024-01-01T00:00:01Z"}` + "\n"
	if string(out) != want {
		t.Fatalf("kcat read\n%s\nwant\n%s", out, want)
	}
}
