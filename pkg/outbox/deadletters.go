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
	"github.com/deimos-cli/deimos/pkg/errs"
)

// DeadLettersTable holds the messages Kafka refused (docs/outbox.md).
const DeadLettersTable = "deimos_dead_letters"

// StoredDeadLetter is one deimos_dead_letters row.
type StoredDeadLetter struct {
	ID                int64
	Topic             string
	Message, Key      []byte // bytes as the outbox row held them (nil Message: tombstone)
	PartitionKey      *string
	Headers           map[string]string
	HeadersText       string // the headers column as stored (when it is not a JSON object of strings)
	Error             string
	OriginalID        *int64
	OriginalCreatedAt *time.Time
	CreatedAt         time.Time
}

// DeadLetterFilter selects dead letters; the zero value selects all.
type DeadLetterFilter struct {
	IDs    []int64
	Topics []string
	// FromID and ToID bound the id, inclusive (0: unbounded).
	FromID, ToID int64
	// Before and After bound when the row was dead-lettered (created_at):
	// older than Before, at or after After (zero: unbounded).
	Before, After time.Time
	// Limit caps a list (0: no limit).
	Limit int
}

// Empty reports whether the filter selects every row.
func (f DeadLetterFilter) Empty() bool {
	return len(f.IDs) == 0 && len(f.Topics) == 0 && f.FromID == 0 && f.ToID == 0 && f.Before.IsZero() && f.After.IsZero()
}

func (f DeadLetterFilter) where() (string, []any) {
	var conds []string
	var args []any
	in := func(col string, n int) string {
		return col + " IN (" + strings.TrimSuffix(strings.Repeat("?, ", n), ", ") + ")"
	}
	if len(f.IDs) > 0 {
		conds = append(conds, in("id", len(f.IDs)))
		for _, id := range f.IDs {
			args = append(args, id)
		}
	}
	if len(f.Topics) > 0 {
		conds = append(conds, in("topic", len(f.Topics)))
		for _, t := range f.Topics {
			args = append(args, t)
		}
	}
	if f.FromID > 0 {
		conds, args = append(conds, "id >= ?"), append(args, f.FromID)
	}
	if f.ToID > 0 {
		conds, args = append(conds, "id <= ?"), append(args, f.ToID)
	}
	if !f.Before.IsZero() {
		conds, args = append(conds, "created_at < ?"), append(args, DBTime(f.Before))
	}
	if !f.After.IsZero() {
		conds, args = append(conds, "created_at >= ?"), append(args, DBTime(f.After))
	}
	if len(conds) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(conds, " AND "), args
}

// ErrNoDeadLetterTable: the table was never created.
var ErrNoDeadLetterTable = errors.New("table deimos_dead_letters does not exist (run `deimos migrate up --only deadletter`)")

// deadLetterCols returns the columns to select (headers when present).
func deadLetterCols(ctx context.Context, d *db.DB) (string, bool, error) {
	ok, err := d.TableExists(ctx, DeadLettersTable)
	if err != nil {
		return "", false, err
	}
	if !ok {
		return "", false, errs.Usage(ErrNoDeadLetterTable)
	}
	cols, err := d.Columns(ctx, DeadLettersTable)
	if err != nil {
		return "", false, err
	}
	sel := "id, topic, message, " + d.Q("key") + ", partition_key, error, original_id, original_created_at, created_at"
	withHeaders := hasCol(cols, "headers")
	if withHeaders {
		sel += ", headers"
	}
	return sel, withHeaders, nil
}

type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func selectDeadLetters(ctx context.Context, q querier, d *db.DB, sel string, withHeaders bool, f DeadLetterFilter, lock bool) ([]StoredDeadLetter, error) {
	where, args := f.where()
	query := "SELECT " + sel + " FROM " + DeadLettersTable + where + " ORDER BY id"
	if f.Limit > 0 {
		query += fmt.Sprintf(" LIMIT %d", f.Limit)
	}
	if lock && d.Dialect.Name() != "sqlite" {
		query += " FOR UPDATE" // a concurrent requeue or delete waits, then finds nothing
	}
	rows, err := q.QueryContext(ctx, d.Rebind(query), args...)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", DeadLettersTable, err)
	}
	defer rows.Close()
	var out []StoredDeadLetter
	for rows.Next() {
		var r StoredDeadLetter
		var pk, hdr sql.NullString
		var oid sql.NullInt64
		var oca, ca any
		dst := []any{&r.ID, &r.Topic, &r.Message, &r.Key, &pk, &r.Error, &oid, &oca, &ca}
		if withHeaders {
			dst = append(dst, &hdr)
		}
		if err := rows.Scan(dst...); err != nil {
			return nil, err
		}
		if pk.Valid {
			v := pk.String
			r.PartitionKey = &v
		}
		if oid.Valid {
			v := oid.Int64
			r.OriginalID = &v
		}
		if t := parseDBTime(oca); !t.IsZero() {
			r.OriginalCreatedAt = &t
		}
		r.CreatedAt = parseDBTime(ca)
		if hdr.Valid && hdr.String != "" {
			r.HeadersText = hdr.String
			var h map[string]string
			if json.Unmarshal([]byte(hdr.String), &h) == nil {
				r.Headers, r.HeadersText = h, ""
			}
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// ListDeadLetters returns the dead letters the filter selects, by id.
func ListDeadLetters(ctx context.Context, d *db.DB, f DeadLetterFilter) ([]StoredDeadLetter, error) {
	sel, withHeaders, err := deadLetterCols(ctx, d)
	if err != nil {
		return nil, err
	}
	return selectDeadLetters(ctx, d, d, sel, withHeaders, f, false)
}

// RequeueResult is what a requeue moved.
type RequeueResult struct {
	// Moved lists the ids of the dead letters put back, in id order.
	Moved []int64
}

// RequeueDeadLetters moves the selected dead letters back into
// kafka_messages in one transaction: the same message and key bytes,
// partition key and headers, in id order, then deletes them from
// deimos_dead_letters. check is called for every row inside the
// transaction; any error (a row still too large, say) rolls everything
// back. Nothing selected is not an error (an empty result).
func RequeueDeadLetters(ctx context.Context, d *db.DB, f DeadLetterFilter, check func(StoredDeadLetter) error, now time.Time) (RequeueResult, error) {
	var res RequeueResult
	sel, withHeaders, err := deadLetterCols(ctx, d)
	if err != nil {
		return res, err
	}
	err = d.Tx(ctx, func(tx *sql.Tx) error {
		rows, err := selectDeadLetters(ctx, tx, d, sel, withHeaders, f, true)
		if err != nil {
			return err
		}
		if len(rows) == 0 {
			return nil
		}
		var bad []string
		out := make([]Row, 0, len(rows))
		ids := make([]int64, 0, len(rows))
		for _, r := range rows {
			if r.HeadersText != "" {
				bad = append(bad, fmt.Sprintf("id %d: headers are not a JSON object of strings", r.ID))
				continue
			}
			if check != nil {
				if err := check(r); err != nil {
					bad = append(bad, fmt.Sprintf("id %d: %v", r.ID, err))
					continue
				}
			}
			out = append(out, Row{Topic: r.Topic, Message: r.Message, Key: r.Key, PartitionKey: r.PartitionKey, Headers: r.Headers})
			ids = append(ids, r.ID)
		}
		if len(bad) > 0 {
			return errs.Failedf("%d dead letter(s) would fail again, nothing requeued: %s", len(bad), strings.Join(bad, "; "))
		}
		if err := Insert(ctx, tx, d.Dialect, out, now); err != nil {
			if errors.Is(err, ErrNoHeadersColumn) {
				return errs.Usage(err)
			}
			return err
		}
		if err := deleteDeadLetters(ctx, tx, d, ids); err != nil {
			return err
		}
		res.Moved = ids
		return nil
	})
	return res, err
}

// DeleteDeadLetters deletes the selected dead letters and returns their ids.
func DeleteDeadLetters(ctx context.Context, d *db.DB, f DeadLetterFilter) ([]int64, error) {
	sel, withHeaders, err := deadLetterCols(ctx, d)
	if err != nil {
		return nil, err
	}
	var ids []int64
	err = d.Tx(ctx, func(tx *sql.Tx) error {
		rows, err := selectDeadLetters(ctx, tx, d, sel, withHeaders, f, true)
		if err != nil {
			return err
		}
		for _, r := range rows {
			ids = append(ids, r.ID)
		}
		return deleteDeadLetters(ctx, tx, d, ids)
	})
	return ids, err
}

func deleteDeadLetters(ctx context.Context, tx *sql.Tx, d *db.DB, ids []int64) error {
	for start := 0; start < len(ids); start += deleteChunk {
		end := min(start+deleteChunk, len(ids))
		args := make([]any, 0, end-start)
		for _, id := range ids[start:end] {
			args = append(args, id)
		}
		q := "DELETE FROM " + DeadLettersTable + " WHERE id IN (" + strings.TrimSuffix(strings.Repeat("?, ", end-start), ", ") + ")"
		if _, err := tx.ExecContext(ctx, d.Rebind(q), args...); err != nil {
			return fmt.Errorf("deleting from %s: %w", DeadLettersTable, err)
		}
	}
	return nil
}

// RecordSize estimates the bytes a broker measures for a message sent
// alone: its key, value and headers plus the record batch's overhead (the
// 61-byte v2 batch header and the record's own varint fields).
func RecordSize(key, value []byte, headers map[string]string) int {
	n := 61 + 21 + len(key) + len(value)
	for k, v := range headers {
		n += len(k) + len(v) + 10
	}
	return n
}
