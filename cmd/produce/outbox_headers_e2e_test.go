package produce_test

import (
	"context"
	"database/sql"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/deimos-cli/deimos/internal/testenv"
	"github.com/deimos-cli/deimos/pkg/db"
	"github.com/deimos-cli/deimos/pkg/migrate"
)

// TestOutboxHeadersThroughBinary: `produce --backend outbox -H k=v` used to
// exit 0 and drop the headers, with or without the opt-in headers column.
// Now, without the column it exits 2 naming the column and the migration
// and writes nothing; with it the headers are stored and `outbox run`
// sends them. Headers the column cannot hold (a key twice) are a failed
// line, not a loss. On every dialect.
func TestOutboxHeadersThroughBinary(t *testing.T) {
	for _, dl := range testenv.Dialects(t) {
		t.Run(dl.Name, func(t *testing.T) {
			url := dl.URL(t)
			ctx := context.Background()
			d, err := db.Open(ctx, url)
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			if _, err := migrate.Up(ctx, d, []string{"outbox"}); err != nil {
				t.Fatal(err)
			}
			brokers := testenv.Brokers(t, 1, "hdr")
			e := []string{"DEIMOS_DB=" + url, "DEIMOS_BROKERS=" + strings.Join(brokers, ",")}
			produce := []string{"produce", "-t", "hdr", "--backend", "outbox", "-H", "source=cli", "-H", "trace=t-1"}
			count := func() int {
				var n int
				if err := d.QueryRowContext(ctx, "SELECT COUNT(*) FROM kafka_messages").Scan(&n); err != nil {
					t.Fatal(err)
				}
				return n
			}

			r := run(t, e, "{\"id\":1}\n", produce...)
			if r.code != 2 || !strings.Contains(r.err, "no headers column") || !strings.Contains(r.err, "migrate up --only headers") {
				t.Fatalf("without the headers column: exit %d, stderr %s", r.code, r.err)
			}
			if n := count(); n != 0 {
				t.Fatalf("%d rows written by the refused run", n)
			}

			ok(t, run(t, e, "", "migrate", "up", "--only", "headers"), "migrate up --only headers")
			ok(t, run(t, e, "{\"id\":1}\n", produce...), "produce with the headers column")
			env := `{"topic":"hdr","key":"k2","value":{"id":2},"headers":[{"key":"env","value":"yes"}]}` + "\n"
			ok(t, run(t, e, env, "produce", "--backend", "outbox", "--input", "envelope"), "produce envelope with headers")
			var h1, h2 sql.NullString
			if err := d.QueryRowContext(ctx, "SELECT headers FROM kafka_messages ORDER BY id LIMIT 1").Scan(&h1); err != nil {
				t.Fatal(err)
			}
			if err := d.QueryRowContext(ctx, "SELECT headers FROM kafka_messages ORDER BY id DESC LIMIT 1").Scan(&h2); err != nil {
				t.Fatal(err)
			}
			if h1.String != `{"source":"cli","trace":"t-1"}` || h2.String != `{"env":"yes"}` {
				t.Fatalf("headers column = %v, %v", h1, h2)
			}

			r = run(t, e, "{\"id\":3}\n", "produce", "-t", "hdr", "--backend", "outbox", "-H", "a=1", "-H", "a=2")
			if r.code != 1 || !strings.Contains(r.err, `header "a" appears twice`) {
				t.Fatalf("duplicate header: exit %d, stderr %s", r.code, r.err)
			}
			if n := count(); n != 2 {
				t.Fatalf("%d rows after the refused duplicate-header run, want 2", n)
			}

			ok(t, run(t, e, "", "outbox", "run", "--once"), "outbox run --once")
			got := map[string]string{}
			cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics("hdr"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()
			pctx, cancel := context.WithTimeout(ctx, 15*time.Second)
			defer cancel()
			for n := 0; n < 2 && pctx.Err() == nil; {
				cl.PollFetches(pctx).EachRecord(func(r *kgo.Record) {
					n++
					var hs []string
					for _, h := range r.Headers {
						hs = append(hs, h.Key+"="+string(h.Value))
					}
					got[string(r.Value)] = strings.Join(hs, ",")
				})
			}
			if got[`{"id":1}`] != "source=cli,trace=t-1" || got[`{"id":2}`] != "env=yes" {
				t.Fatalf("records' headers in Kafka: %v", got)
			}
		})
	}
}
