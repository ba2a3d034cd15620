package outbox

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/deimos-cli/deimos/pkg/db"
)

// Row is one kafka_messages row as the Deimos outbox backend writes it
// (spec 2.9): the already-encoded value and key bytes (nil Message = a
// tombstone, nil Key = no key) and the plain-text partition key.
type Row struct {
	Topic        string // full topic name, prefix included
	Message, Key []byte
	PartitionKey *string
}

// Execer is satisfied by *sql.DB, *sql.Tx and *sql.Conn.
type Execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// TimeFormat is how datetimes are written: UTC wall time with microseconds,
// as ActiveRecord writes them (a string sorts and compares correctly in SQLite
// and is cast to timestamp by PostgreSQL).
const TimeFormat = "2006-01-02 15:04:05.000000"

// DBTime renders t for a datetime parameter.
func DBTime(t time.Time) string { return t.UTC().Format(TimeFormat) }

// insertChunk keeps a statement's parameters (6 per row) far below the
// PostgreSQL (65535) and SQLite (32766) limits.
const insertChunk = 1000

// Insert writes rows into kafka_messages with multi-row INSERTs of exactly
// the columns Deimos writes (topic, message, key, partition_key, created_at,
// updated_at). Run it inside the caller's transaction: that is the point of
// an outbox.
func Insert(ctx context.Context, tx Execer, d db.Dialect, rows []Row, now time.Time) error {
	ts := DBTime(now)
	for start := 0; start < len(rows); start += insertChunk {
		end := min(start+insertChunk, len(rows))
		var b strings.Builder
		b.WriteString("INSERT INTO kafka_messages (topic, message, key, partition_key, created_at, updated_at) VALUES ")
		args := make([]any, 0, 6*(end-start))
		for i, r := range rows[start:end] {
			if r.Topic == "" {
				return fmt.Errorf("outbox insert: row %d has no topic", start+i+1)
			}
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString("(?, ?, ?, ?, ?, ?)")
			var pk any
			if r.PartitionKey != nil {
				pk = *r.PartitionKey
			}
			args = append(args, r.Topic, bytesArg(r.Message), bytesArg(r.Key), pk, ts, ts)
		}
		if _, err := tx.ExecContext(ctx, db.Rebind(d, b.String()), args...); err != nil {
			return fmt.Errorf("outbox insert into kafka_messages: %w", err)
		}
	}
	return nil
}

// bytesArg keeps nil as SQL NULL and a non-nil (even empty) slice as bytes.
func bytesArg(b []byte) any {
	if b == nil {
		return nil
	}
	return b
}
