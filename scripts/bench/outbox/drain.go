package main

import (
	"context"
	"database/sql"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5/stdlib"

	"github.com/deimos-cli/deimos/pkg/db"
	"github.com/deimos-cli/deimos/pkg/outbox"
)

// mysqlDeleteChunk is the relay's ids per DELETE on MySQL (pkg/outbox);
// on PostgreSQL it deletes a batch with one id array.
const mysqlDeleteChunk = 5000

// dbOnly drains the table with the relay's statements and no Kafka: one
// topic per goroutine at a time, batches in id order (the first SELECT plain,
// later ones "AND id > last", as the relay), each batch deleted in one
// transaction (PostgreSQL: the DELETE alone, its own transaction, as the relay), and, as the relay does, the next batch fetched while the
// current one is processed (here: deleted); on PostgreSQL, as the relay,
// with the relay's receive buffer, the prefetched batch's rows read once
// the batch before it is deleted.
func dbOnly(ctx context.Context, d *db.DB, topics []string, workers, batch int) {
	cols := "SELECT id, topic, message, " + d.Q("key") + ", partition_key, created_at FROM kafka_messages"
	first := d.Rebind(cols + " WHERE topic = ? ORDER BY id LIMIT ?")
	next := d.Rebind(cols + " WHERE topic = ? AND id > ? ORDER BY id LIMIT ?")
	pg := d.Dialect.Name() == "postgres"
	fetch := func(t string, after int64, ready <-chan struct{}) []int64 {
		c, err := d.Conn(ctx)
		check(err)
		defer c.Close()
		if pg { // the relay's receive buffer
			check(c.Raw(func(dc any) error { outbox.WidenReceiveBuffer(dc.(*stdlib.Conn).Conn().PgConn().Conn()); return nil }))
		}
		var rows *sql.Rows
		if after < 0 {
			rows, err = c.QueryContext(ctx, first, t, batch)
		} else {
			rows, err = c.QueryContext(ctx, next, t, after, batch)
		}
		check(err)
		defer rows.Close()
		if ready != nil { // as the relay: a prefetched batch is read once the one before is done
			<-ready
		}
		ids := make([]int64, 0, batch)
		for rows.Next() {
			var id int64
			var topic string
			var msg, key []byte
			var pk sql.NullString
			var ca any
			check(rows.Scan(&id, &topic, &msg, &key, &pk, &ca))
			ids = append(ids, id)
		}
		check(rows.Err())
		return ids
	}
	del := func(tx *sql.Tx, t string, ids []int64) error {
		if d.Dialect.Name() == "postgres" {
			_, err := tx.ExecContext(ctx, "DELETE FROM kafka_messages WHERE topic = $1 AND id = ANY($2)", t, ids)
			return err
		}
		for start := 0; start < len(ids); start += mysqlDeleteChunk {
			part := ids[start:min(start+mysqlDeleteChunk, len(ids))]
			args := []any{t}
			for _, id := range part {
				args = append(args, id)
			}
			q := "DELETE FROM kafka_messages WHERE topic = ? AND id IN (" + strings.TrimSuffix(strings.Repeat("?, ", len(part)), ", ") + ")"
			if _, err := tx.ExecContext(ctx, d.Rebind(q), args...); err != nil {
				return err
			}
		}
		return nil
	}
	ch := make(chan string, len(topics))
	for _, t := range topics {
		ch <- t
	}
	close(ch)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for t := range ch {
				ids := fetch(t, -1, nil)
				for len(ids) > 0 {
					var nextc chan []int64
					var ready chan struct{}
					if len(ids) >= batch {
						nextc = make(chan []int64, 1)
						after := ids[len(ids)-1]
						if pg {
							ready = make(chan struct{})
						}
						go func() { nextc <- fetch(t, after, ready) }()
					}
					if pg { // as the relay: one DELETE, its own transaction
						_, err := d.ExecContext(ctx, "DELETE FROM kafka_messages WHERE topic = $1 AND id = ANY($2)", t, ids)
						check(err)
					} else {
						check(d.Tx(ctx, func(tx *sql.Tx) error { return del(tx, t, ids) }))
					}
					if ready != nil {
						close(ready)
					}
					if nextc == nil {
						break
					}
					ids = <-nextc
				}
			}
		}()
	}
	wg.Wait()
}
