package poller

import (
	"context"
	"database/sql"
	"errors"
	"testing"
	"time"

	"github.com/deimos-cli/deimos/internal/testenv"
	"github.com/deimos-cli/deimos/pkg/db"
	"github.com/deimos-cli/deimos/pkg/encode"
	"github.com/deimos-cli/deimos/pkg/migrate"
	"github.com/deimos-cli/deimos/pkg/outbox"
)

// The outbox backend writes Deimos's kafka_messages rows and the poller's
// cursor in one transaction on every dialect: rows and cursor together, or
// neither when the cursor update fails.
func TestOutboxPublisherOneTransaction(t *testing.T) {
	ctx := context.Background()
	for _, dl := range testenv.Dialects(t) {
		t.Run(dl.Name, func(t *testing.T) {
			d, err := db.Open(ctx, dl.URL(t))
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			if _, err := migrate.Up(ctx, d, []string{"outbox", "poller"}); err != nil {
				t.Fatal(err)
			}
			p := &OutboxPublisher{DB: d, Now: func() time.Time { return time.Date(2024, 3, 4, 5, 6, 7, 0, time.UTC) }}
			msgs := []encode.Encoded{
				{Topic: "widgets", Key: []byte("\x00k1"), Value: []byte("v1\x00'\\"), PartitionKey: []byte("1")},
				{Topic: "widgets", Key: []byte("k2"), Value: nil},
			}
			cursor := func(ctx context.Context, tx *sql.Tx) error {
				_, err := tx.ExecContext(ctx, d.Rebind("INSERT INTO deimos_poll_info (producer, last_sent, last_sent_id) VALUES (?, ?, ?)"), "WidgetProducer", outbox.DBTime(time.Now()), 2)
				return err
			}
			if err := p.Publish(ctx, msgs, cursor); err != nil {
				t.Fatal(err)
			}
			failed := errors.New("cursor update failed")
			if err := p.Publish(ctx, msgs, func(context.Context, *sql.Tx) error { return failed }); !errors.Is(err, failed) {
				t.Fatalf("Publish with a failing commit = %v", err)
			}
			sts, err := outbox.Status(ctx, d, time.Now())
			if err != nil || len(sts) != 1 || sts[0].Topic != "widgets" || sts[0].Pending != 2 {
				t.Fatalf("outbox status %+v, %v: want the first batch's 2 rows only", sts, err)
			}
			got := testenv.Rows(t, d, "SELECT "+d.Q("key")+", COALESCE(message, 'NULL'), COALESCE(partition_key, 'NULL') FROM kafka_messages ORDER BY id")
			if len(got) != 2 || got[0] != "\x00k1|v1\x00'\\|1" || got[1] != "k2|NULL|NULL" {
				t.Fatalf("kafka_messages = %q", got)
			}
			if n := testenv.Rows(t, d, "SELECT COUNT(*) FROM deimos_poll_info"); n[0] != "1" {
				t.Fatalf("deimos_poll_info rows = %v", n)
			}
		})
	}
}
