package outbox

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/deimos-cli/deimos/pkg/db"
)

// LockWindow is Deimos's staleness window: a lock whose locked_at is older
// can be taken by anyone (docs/deimos-compat.md §2.2).
const LockWindow = time.Minute

// store is the SQL side of the relay: kafka_messages and kafka_topic_info,
// written exactly as Deimos's KafkaTopicInfo and KafkaMessage do.
type store struct {
	d *db.DB
	// hasLastProcessed: kafka_topic_info.last_processed_at exists (absent on pre-1.8.1 installs).
	hasLastProcessed bool
	// hasHeaders: the opt-in kafka_messages.headers column exists.
	hasHeaders bool
	// hasDeadLetters: deimos_dead_letters exists.
	hasDeadLetters bool
	// hasDeadLetterHeaders: deimos_dead_letters.headers exists.
	hasDeadLetterHeaders bool
	// scales: on MySQL, the fractional-second digits of each datetime
	// column ("table.column"), so times are written as the column holds
	// them (db.DatetimeScales); nil elsewhere.
	scales map[string]int
	// cols is the fetch's column list; key is quoted (a reserved word on MySQL).
	cols string
	// slowPG: on PostgreSQL, the columns' types need the generic fetch (fetchPG cannot read them).
	slowPG atomic.Bool
	// slowScan: on MySQL, read fetched rows with scanMessages (tests compare the two).
	slowScan atomic.Bool
}

// deadLetterGap says why dead letters cannot be stored ("" when they can):
// no table, or headers and no headers column (a requeue must send them).
func (s *store) deadLetterGap(dead []DeadLetter) string {
	if len(dead) == 0 {
		return ""
	}
	if !s.hasDeadLetters {
		return "table deimos_dead_letters does not exist"
	}
	if !s.hasDeadLetterHeaders {
		for _, d := range dead {
			if len(d.Msg.Headers) > 0 {
				return "deimos_dead_letters has no headers column for their headers"
			}
		}
	}
	return ""
}

func newStore(ctx context.Context, d *db.DB) (*store, error) {
	s := &store{d: d}
	for _, t := range []string{"kafka_messages", "kafka_topic_info"} {
		ok, err := d.TableExists(ctx, t)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, fmt.Errorf("table %s does not exist (run `deimos migrate up --only outbox`)", t)
		}
	}
	cols, err := d.Columns(ctx, "kafka_topic_info")
	if err != nil {
		return nil, err
	}
	s.hasLastProcessed = hasCol(cols, "last_processed_at")
	cols, err = d.Columns(ctx, "kafka_messages")
	if err != nil {
		return nil, err
	}
	s.hasHeaders = hasCol(cols, "headers")
	if s.hasDeadLetters, err = d.TableExists(ctx, "deimos_dead_letters"); err != nil {
		return nil, err
	}
	if s.hasDeadLetters {
		if cols, err = d.Columns(ctx, "deimos_dead_letters"); err != nil {
			return nil, err
		}
		s.hasDeadLetterHeaders = hasCol(cols, "headers")
	}
	s.cols = "id, topic, message, " + d.Q("key") + ", partition_key, created_at"
	if s.hasHeaders {
		s.cols += ", headers"
	}
	if d.Dialect.Name() == "mysql" {
		s.scales = map[string]int{}
		for _, t := range []string{"kafka_topic_info", "deimos_dead_letters"} {
			sc, err := db.DatetimeScales(ctx, d, d.Dialect, t)
			if err != nil {
				return nil, err
			}
			for c, n := range sc {
				s.scales[t+"."+c] = n
			}
		}
	}
	return s, nil
}

// at renders t for a datetime parameter of table.col: UTC wall time, cut
// to the digits the column holds on MySQL (as Rails writes it; MySQL 8
// would round the rest up).
func (s *store) at(col string, t time.Time) string {
	return DBTime(db.TruncTime(t, db.ScaleOf(s.scales, col)))
}

func hasCol(cols []string, c string) bool {
	for _, x := range cols {
		if strings.EqualFold(x, c) {
			return true
		}
	}
	return false
}

func (s *store) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return s.d.ExecContext(ctx, s.d.Rebind(q), args...)
}

// lock is KafkaTopicInfo.lock: insert the row if missing, then the
// conditional UPDATE with UTC second-precision literals, then check.
//
// Departures (docs/deimos-compat.md §2.8): a row with error=true and locked_at IS NULL is
// lockable; and an owner may re-take its own lock (only it knows its UUID), so
// a failed unlock during a database outage does not cost it 60 s.
func (s *store) lock(ctx context.Context, topic, id string, now time.Time) (bool, error) {
	ins := "INSERT INTO kafka_topic_info (topic) VALUES (?)"
	args := []any{topic}
	if s.hasLastProcessed {
		ins = "INSERT INTO kafka_topic_info (topic, last_processed_at) VALUES (?, ?)"
		args = append(args, s.at("kafka_topic_info.last_processed_at", now))
	}
	// Insert only when missing (a portable "insert, ignore RecordNotUnique";
	// a concurrent insert by another relay is a unique violation, ignored).
	var have int
	if err := s.d.QueryRowContext(ctx, s.d.Rebind("SELECT COUNT(*) FROM kafka_topic_info WHERE topic = ?"), topic).Scan(&have); err != nil {
		return false, fmt.Errorf("lock %s: %w", topic, err)
	}
	if have == 0 {
		if _, err := s.exec(ctx, ins, args...); err != nil && !db.IsUniqueViolation(err) {
			return false, fmt.Errorf("lock %s: %w", topic, err)
		}
	}
	dl := s.d.Dialect
	f := dl.Bool(false)
	q := "UPDATE kafka_topic_info SET locked_by = ?, locked_at = " + dl.TimeLiteral(now) + ", error = " + f +
		" WHERE topic = ? AND ((locked_by IS NULL AND error = " + f + ") OR locked_at < " + dl.TimeLiteral(now.Add(-LockWindow)) +
		" OR (locked_by IS NULL AND locked_at IS NULL) OR locked_by = ?)"
	if _, err := s.exec(ctx, q, id, topic, id); err != nil {
		return false, fmt.Errorf("lock %s: %w", topic, err)
	}
	return s.holds(ctx, topic, id)
}

// heartbeat sets locked_at = now on our lock; false means the lock was lost.
func (s *store) heartbeat(ctx context.Context, topic, id string, now time.Time) (bool, error) {
	res, err := s.exec(ctx, "UPDATE kafka_topic_info SET locked_at = ? WHERE topic = ? AND locked_by = ?", s.at("kafka_topic_info.locked_at", now), topic, id)
	if err != nil {
		return false, fmt.Errorf("heartbeat %s: %w", topic, err)
	}
	if n, err := res.RowsAffected(); err != nil || n > 0 {
		return true, nil
	}
	// No row changed. MySQL counts changed rows, not matched ones: a
	// heartbeat within the same second of a whole-second locked_at changes
	// nothing, yet the lock is ours. Ask.
	return s.holds(ctx, topic, id)
}

// holds reports whether id holds topic's lock.
func (s *store) holds(ctx context.Context, topic, id string) (bool, error) {
	var n int
	if err := s.d.QueryRowContext(ctx, s.d.Rebind("SELECT COUNT(*) FROM kafka_topic_info WHERE locked_by = ? AND topic = ?"), id, topic).Scan(&n); err != nil {
		return false, fmt.Errorf("lock %s: %w", topic, err)
	}
	return n > 0, nil
}

// clearLock releases the lock and resets the error state.
func (s *store) clearLock(ctx context.Context, topic, id string, now time.Time) error {
	q := "UPDATE kafka_topic_info SET locked_by = NULL, locked_at = NULL, error = " + s.d.Dialect.Bool(false) + ", retries = 0"
	args := []any{}
	if s.hasLastProcessed {
		q += ", last_processed_at = ?"
		args = append(args, s.at("kafka_topic_info.last_processed_at", now))
	}
	args = append(args, topic, id)
	if _, err := s.exec(ctx, q+" WHERE topic = ? AND locked_by = ?", args...); err != nil {
		return fmt.Errorf("unlock %s: %w", topic, err)
	}
	return nil
}

// registerError releases the lock with error=true and locked_at=now, which
// keeps the topic out for LockWindow, and counts a retry.
func (s *store) registerError(ctx context.Context, topic, id string, now time.Time) error {
	q := "UPDATE kafka_topic_info SET locked_by = NULL, locked_at = ?, error = " + s.d.Dialect.Bool(true) + ", retries = retries + 1 WHERE topic = ? AND locked_by = ?"
	if _, err := s.exec(ctx, q, s.at("kafka_topic_info.locked_at", now), topic, id); err != nil {
		return fmt.Errorf("register error %s: %w", topic, err)
	}
	return nil
}

// pingEmptyTopics sets last_processed_at on unlocked topics that have no
// pending rows. Like Deimos, nothing is pinged when no topic has rows.
func (s *store) pingEmptyTopics(ctx context.Context, topics []string, now time.Time) error {
	if !s.hasLastProcessed || len(topics) == 0 {
		return nil
	}
	q := "UPDATE kafka_topic_info SET last_processed_at = ? WHERE locked_by IS NULL AND topic NOT IN (" + strings.TrimSuffix(strings.Repeat("?, ", len(topics)), ", ") + ")"
	args := []any{s.at("kafka_topic_info.last_processed_at", now)}
	for _, t := range topics {
		args = append(args, t)
	}
	_, err := s.exec(ctx, q, args...)
	return err
}

// topicsQuery lists the topics with rows, as Deimos's SELECT DISTINCT topic
// FROM kafka_messages does. MySQL answers that from the (topic, id) index
// with a loose index scan, a few entries per topic; PostgreSQL reads every
// index entry (a million-row backlog costs a second or more per pass), so
// there the same answer comes from one index probe per topic.
func topicsQuery(d db.Dialect) string {
	if d.Name() == "postgres" {
		return "WITH RECURSIVE t (topic) AS (SELECT MIN(topic) FROM kafka_messages" +
			" UNION ALL SELECT (SELECT MIN(k.topic) FROM kafka_messages k WHERE k.topic > t.topic) FROM t WHERE t.topic IS NOT NULL)" +
			" SELECT topic FROM t WHERE topic IS NOT NULL ORDER BY topic"
	}
	return "SELECT DISTINCT topic FROM kafka_messages"
}

// topicsAfterDrain is topics on PostgreSQL for a pass after this relay
// emptied the topics of drained, each up to its id: a drained topic is
// listed when it has a row above that id, and the topics between them come
// from walks bounded by them, so the index entries of the rows just
// deleted (each a visit to the dead heap tuple, as many as the rows
// relayed) are not read again. order is the previous listing, in the
// column's order. A row of a drained topic with a lower id that commits
// after the drain is left for a later pass or run, like one that commits
// after the listing.
func (s *store) topicsAfterDrain(ctx context.Context, order []string, drained map[string]int64) ([]string, error) {
	var out []string
	walk := func(lo, hi *string) error {
		var args []any
		cond := func(col string) string {
			var c []string
			if lo != nil && col == "topic" {
				args = append(args, *lo)
				c = append(c, fmt.Sprintf("topic > $%d", len(args)))
			}
			if hi != nil {
				if col == "topic" {
					args = append(args, *hi)
				}
				c = append(c, fmt.Sprintf("%s < $%d", col, len(args)))
			}
			return strings.Join(c, " AND ")
		}
		first := cond("topic")
		q := "WITH RECURSIVE t (topic) AS (SELECT MIN(topic) FROM kafka_messages"
		if first != "" {
			q += " WHERE " + first
		}
		q += " UNION ALL SELECT (SELECT MIN(k.topic) FROM kafka_messages k WHERE k.topic > t.topic"
		if hi != nil {
			q += " AND " + cond("k.topic")
		}
		q += ") FROM t WHERE t.topic IS NOT NULL) SELECT topic FROM t WHERE topic IS NOT NULL"
		rows, err := s.d.QueryContext(ctx, q, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var t string
			if err := rows.Scan(&t); err != nil {
				return err
			}
			out = append(out, t)
		}
		return rows.Err()
	}
	var lo *string
	for i := range order {
		t := &order[i]
		last, ok := drained[*t]
		if !ok {
			continue
		}
		if err := walk(lo, t); err != nil {
			return nil, err
		}
		var more int
		err := s.d.QueryRowContext(ctx, "SELECT COUNT(*) FROM (SELECT 1 FROM kafka_messages WHERE topic = $1 AND id > $2 LIMIT 1) x", *t, last).Scan(&more)
		if err != nil {
			return nil, err
		}
		if more > 0 {
			out = append(out, *t)
		}
		lo = t
	}
	if err := walk(lo, nil); err != nil {
		return nil, err
	}
	return out, nil
}

// topics lists the topics with rows in kafka_messages.
func (s *store) topics(ctx context.Context) ([]string, error) {
	rows, err := s.d.QueryContext(ctx, topicsQuery(s.d.Dialect))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// Message is one fetched kafka_messages row.
type Message struct {
	ID           int64
	Topic        string
	Message, Key []byte
	PartitionKey *string
	CreatedAt    time.Time
	Headers      []byte // raw JSON object text from the optional headers column
}

func (s *store) fetch(ctx context.Context, topic string, limit int) ([]Message, error) {
	return s.fetchAfter(ctx, topic, -1, limit)
}

// fetchAfter fetches rows with id > after (all rows when after < 0), in id order.
func (s *store) fetchAfter(ctx context.Context, topic string, after int64, limit int) ([]Message, error) {
	return s.fetchInto(ctx, topic, after, limit, &slab{})
}

// fetchInto is fetchAfter with the rows' values copied into sl.
func (s *store) fetchInto(ctx context.Context, topic string, after int64, limit int, sl *slab) ([]Message, error) {
	cols := s.cols
	q := "SELECT " + cols + " FROM kafka_messages WHERE topic = ? ORDER BY id LIMIT ?"
	args := []any{topic, limit}
	if after >= 0 {
		q = "SELECT " + cols + " FROM kafka_messages WHERE topic = ? AND id > ? ORDER BY id LIMIT ?"
		args = []any{topic, after, limit}
	}
	return s.fetchRows(ctx, q, args, topic, limit, sl)
}

// utcWall reads a datetime column's value: timestamp without time zone, so
// the wall time is UTC.
func utcWall(x time.Time) time.Time {
	return time.Date(x.Year(), x.Month(), x.Day(), x.Hour(), x.Minute(), x.Second(), x.Nanosecond(), time.UTC)
}

func parseDBTime(v any) time.Time {
	switch x := v.(type) {
	case time.Time:
		return utcWall(x)
	case string:
		for _, f := range []string{"2006-01-02 15:04:05.999999999", "2006-01-02T15:04:05.999999999", time.RFC3339Nano} {
			if t, err := time.Parse(f, x); err == nil {
				return t.UTC()
			}
		}
	case []byte:
		return parseDBTime(string(x))
	}
	return time.Time{}
}

// deleteChunk is how many ids one DELETE names on SQLite (Deimos uses 10;
// larger groups are much faster and equally safe: deleting a deleted id is
// a no-op), and mysqlDeleteChunk on MySQL, where the ids are written into
// the statement text (no placeholder limit) and one statement per batch
// costs the server least. PostgreSQL deletes a whole batch in one
// statement with an id array.
const (
	deleteChunk      = 500
	mysqlDeleteChunk = 5000
)

func deleteIDs(ctx context.Context, tx Execer, d db.Dialect, topic string, ids []int64) error {
	if d.Name() == "postgres" {
		// One statement with one array parameter: no per-id placeholders
		// to build, bind and plan.
		if len(ids) == 0 {
			return nil
		}
		_, err := tx.ExecContext(ctx, "DELETE FROM kafka_messages WHERE topic = $1 AND id = ANY($2)", topic, ids)
		return err
	}
	chunk := deleteChunk
	if d.Name() == "mysql" {
		chunk = mysqlDeleteChunk
	}
	for start := 0; start < len(ids); start += chunk {
		end := min(start+chunk, len(ids))
		var b strings.Builder
		b.WriteString("DELETE FROM kafka_messages WHERE topic = ? AND id IN (")
		args := make([]any, 0, end-start+1)
		args = append(args, topic)
		for i, id := range ids[start:end] {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString("?")
			args = append(args, id)
		}
		b.WriteString(")")
		if _, err := tx.ExecContext(ctx, db.Rebind(d, b.String()), args...); err != nil {
			return err
		}
	}
	return nil
}

// DeadLetter is a row Kafka refused, with the reason.
type DeadLetter struct {
	Msg Message
	Err string
}

// finish deletes every fetched row and moves the rejected ones to the
// dead-letter table, in one transaction. Lock-wait and lost-connection errors
// are retried (Deimos: up to 3 attempts, 1 s apart).
func (s *store) finish(ctx context.Context, topic string, ids []int64, dead []DeadLetter, now time.Time) error {
	return db.Retry(ctx, db.Backoff{Attempts: 4, Wait: time.Second}, func() error {
		if len(dead) == 0 && s.d.Dialect.Name() == "postgres" {
			// One statement: its own transaction, without the round trips
			// of BEGIN and COMMIT around it.
			return deleteIDs(ctx, s.d.DB, s.d.Dialect, topic, ids)
		}
		return s.d.Tx(ctx, func(tx *sql.Tx) error {
			if len(dead) > 0 {
				for _, x := range dead {
					dl, reason := x.Msg, x.Err
					var pk any
					if dl.PartitionKey != nil {
						pk = *dl.PartitionKey
					}
					var created any
					if !dl.CreatedAt.IsZero() {
						created = s.at("deimos_dead_letters.original_created_at", dl.CreatedAt)
					}
					q := "INSERT INTO deimos_dead_letters (topic, message, " + s.d.Q("key") + ", partition_key, error, original_id, original_created_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
					args := []any{dl.Topic, bytesArg(dl.Message), bytesArg(dl.Key), pk, reason, dl.ID, created, s.at("deimos_dead_letters.created_at", now)}
					if s.hasDeadLetterHeaders {
						q = "INSERT INTO deimos_dead_letters (topic, message, " + s.d.Q("key") + ", partition_key, error, original_id, original_created_at, created_at, headers) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
						var h any
						if len(dl.Headers) > 0 {
							h = string(dl.Headers)
						}
						args = append(args, h)
					}
					if _, err := tx.ExecContext(ctx, s.d.Rebind(q), args...); err != nil {
						return fmt.Errorf("dead-letter row %d: %w", dl.ID, err)
					}
				}
			}
			return deleteIDs(ctx, tx, s.d.Dialect, topic, ids)
		})
	}, func(error, int, time.Duration) { _ = s.d.PingContext(ctx) })
}
