package poller

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/deimos-cli/deimos/pkg/db"
	"github.com/deimos-cli/deimos/pkg/migrate"
	"github.com/deimos-cli/deimos/pkg/redact"
)

// Errors the poller stores (deimos_poller_runs.last_error) or reports
// (poller status) are free text, not URLs: they are scrubbed of the
// database's secrets with redact.Text. The secret here is a URL parameter
// that also names the table, so the driver's own error quotes it.
func TestPollerErrorsAreScrubbedOfTheDatabasePassword(t *testing.T) {
	ctx := context.Background()
	const secret = "widgets_hunter2"
	d, err := db.OpenOrCreate(ctx, "sqlite:"+filepath.Join(t.TempDir(), "s.db")+"?password="+secret)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := migrate.Up(ctx, d, []string{"poller"}); err != nil {
		t.Fatal(err)
	}
	sts, err := GetStatus(ctx, d, []Settings{{Name: "P", Table: secret, TimestampColumn: "updated_at", IDColumn: "id", Mode: TimeBased}})
	if err != nil {
		t.Fatal(err)
	}
	if len(sts) != 1 || sts[0].Err == "" {
		t.Fatalf("status of a poller on a missing table: %+v, want an error", sts)
	}
	if strings.Contains(sts[0].Err, secret) || !strings.Contains(sts[0].Err, redact.Mask) {
		t.Fatalf("status error not scrubbed: %q", sts[0].Err)
	}

	if err := ensureRunsTable(ctx, d); err != nil {
		t.Fatal(err)
	}
	if err := recordRun(ctx, d, RunStats{Poller: "P", Err: errors.New("query on " + secret + " failed")}, time.Now()); err != nil {
		t.Fatal(err)
	}
	var stored string
	if err := d.QueryRowContext(ctx, "SELECT last_error FROM "+RunsTable+" WHERE producer = 'P'").Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(stored, secret) || !strings.Contains(stored, redact.Mask) {
		t.Fatalf("stored last_error not scrubbed: %q", stored)
	}
}
