package outbox

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/deimos-cli/deimos/pkg/db"
)

// Row is one kafka_messages row as the Deimos outbox backend writes it
// (docs/deimos-compat.md §3): the already-encoded value and key bytes (nil Message = a
// tombstone, nil Key = no key) and the plain-text partition key.
type Row struct {
	Topic        string // full topic name, prefix included
	Message, Key []byte
	PartitionKey *string
	// Headers go into the optional kafka_messages.headers column (opt-in
	// migration `migrate up --only headers`) as a JSON object; the relay sends
	// them. Deimos never stores headers: rows without any keep exactly
	// Deimos's columns, and headers without the column are an error (never
	// silently dropped).
	Headers map[string]string
}

// HeadersColumn reports whether kafka_messages has the opt-in headers
// column (`deimos migrate up --only headers`).
func HeadersColumn(ctx context.Context, d *db.DB) (bool, error) {
	cols, err := d.Columns(ctx, "kafka_messages")
	if err != nil {
		return false, err
	}
	return hasCol(cols, "headers"), nil
}

// ErrNoHeadersColumn explains headers that have nowhere to go: the caller
// must fail (exit 2), never drop them. Insert wraps it (errors.Is).
var ErrNoHeadersColumn = errors.New("kafka_messages has no headers column, so these headers cannot be stored: add the opt-in column with `deimos migrate up --only headers`, or send the messages without headers")

// Execer is satisfied by *sql.DB, *sql.Tx and *sql.Conn.
type Execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// TimeFormat is how datetimes are written: UTC wall time with microseconds,
// as ActiveRecord writes them (a string sorts and compares correctly in SQLite
// and is cast to timestamp by PostgreSQL).
const TimeFormat = "2006-01-02 15:04:05.000000"

// DBTime renders t for a datetime parameter.
func DBTime(t time.Time) string { return t.UTC().Format(TimeFormat) }

// insertChunk keeps a statement's parameters (6 or 7 per row) far below the
// PostgreSQL (65535) and SQLite (32766) limits, and insertBytes its size
// (message and key bytes) within MySQL's max_allowed_packet: MySQL gets each
// statement as one text packet, binary values escaped (up to twice as long),
// and MariaDB's default packet limit is 16 MiB. A statement holds at least
// one row, however large.
const (
	insertChunk = 1000
	insertBytes = 4 << 20
)

// insertEnd is where the statement that starts at rows[start] ends.
func insertEnd(rows []Row, start int) int {
	end, size := start, 0
	for end < len(rows) && end-start < insertChunk {
		n := len(rows[end].Message) + len(rows[end].Key)
		if end > start && size+n > insertBytes {
			break
		}
		size += n
		end++
	}
	return end
}

// Insert writes rows into kafka_messages with multi-row INSERTs of exactly
// the columns Deimos writes (topic, message, key, partition_key, created_at,
// updated_at). Run it inside the caller's transaction: that is the point of
// an outbox. On MySQL the times are cut to the digits created_at holds
// (whole seconds in tables Rails 5 and 6 created), as Rails writes them;
// that costs one read of information_schema per call.
func Insert(ctx context.Context, tx Execer, d db.Dialect, rows []Row, now time.Time) error {
	if len(rows) == 0 {
		return nil
	}
	scales, err := db.DatetimeScales(ctx, tx, d, "kafka_messages")
	if err != nil {
		return fmt.Errorf("outbox insert: %w", err)
	}
	ts := DBTime(db.TruncTime(now, db.ScaleOf(scales, "created_at")))
	key := d.Quote("key") // a reserved word on MySQL
	for start, end := 0, 0; start < len(rows); start = end {
		end = insertEnd(rows, start)
		withHeaders := false
		for _, r := range rows[start:end] {
			withHeaders = withHeaders || len(r.Headers) > 0
		}
		var b strings.Builder
		if withHeaders {
			b.WriteString("INSERT INTO kafka_messages (topic, message, " + key + ", partition_key, created_at, updated_at, headers) VALUES ")
		} else {
			b.WriteString("INSERT INTO kafka_messages (topic, message, " + key + ", partition_key, created_at, updated_at) VALUES ")
		}
		args := make([]any, 0, 7*(end-start))
		for i, r := range rows[start:end] {
			if r.Topic == "" {
				return fmt.Errorf("outbox insert: row %d has no topic", start+i+1)
			}
			if i > 0 {
				b.WriteString(", ")
			}
			var pk any
			if r.PartitionKey != nil {
				pk = *r.PartitionKey
			}
			args = append(args, r.Topic, bytesArg(r.Message), bytesArg(r.Key), pk, ts, ts)
			if withHeaders {
				b.WriteString("(?, ?, ?, ?, ?, ?, ?)")
				var h any
				if len(r.Headers) > 0 {
					j, err := json.Marshal(r.Headers) // keys sorted
					if err != nil {
						return fmt.Errorf("outbox insert: row %d headers: %w", start+i+1, err)
					}
					h = string(j)
				}
				args = append(args, h)
			} else {
				b.WriteString("(?, ?, ?, ?, ?, ?)")
			}
		}
		if _, err := tx.ExecContext(ctx, db.Rebind(d, b.String()), args...); err != nil {
			if withHeaders && db.IsUndefinedColumn(err) {
				return fmt.Errorf("outbox insert: %w: %w", ErrNoHeadersColumn, err)
			}
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
