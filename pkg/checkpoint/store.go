// Package checkpoint is phobos_db_checkpoint for deimos
// (docs/deimos-compat.md §8): acknowledged events are stored in
// phobos_db_checkpoint_events and deduplicated by (topic, group_id,
// checksum); messages that still fail after max_retries are stored in
// phobos_db_checkpoint_failures; an HTTP API lists, retries and deletes them.
// The tables are the ones `deimos migrate up --only checkpoint` creates, so a
// Ruby process and deimos can share them.
package checkpoint

import (
	"bytes"
	"context"
	"crypto/md5"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/deimos-cli/deimos/pkg/db"
)

// Table names (docs/deimos-compat.md §8.1).
const (
	EventsTable   = "phobos_db_checkpoint_events"
	FailuresTable = "phobos_db_checkpoint_failures"
)

// ErrNotFound is returned for a missing event or failure.
var ErrNotFound = errors.New("not found")

// Checksum is phobos_db_checkpoint's checksum of a raw (string) payload:
// lowercase MD5 hex of its JSON string literal, quotes and escapes included
// (docs/deimos-compat.md §8.2). Go's encoder escapes <, >, &, U+2028 and U+2029 as
// ActiveSupport does.
//
// A payload that is not valid UTF-8 (binary) has no JSON string literal
// (Ruby's to_json raises on it, and Go's encoder would replace the bad bytes
// with U+FFFD, giving two different payloads the same checksum and deduping
// the second away): its checksum is the MD5 of the bytes themselves.
func Checksum(payload string) string {
	if !utf8.ValidString(payload) {
		sum := md5.Sum([]byte(payload))
		return hex.EncodeToString(sum[:])
	}
	b, _ := json.Marshal(payload)
	sum := md5.Sum(b)
	return hex.EncodeToString(sum[:])
}

// PayloadJSON is what the payload column holds for a payload text: the JSON
// document itself when the text is JSON, else the JSON string literal (as
// ActiveRecord stores a String in a json column). nil text gives NULL.
func PayloadJSON(text []byte) any {
	if text == nil {
		return nil
	}
	t := bytes.TrimSpace(text)
	if len(t) > 0 && json.Valid(t) {
		return string(t)
	}
	b, _ := json.Marshal(string(text))
	return string(b)
}

// PayloadText is the inverse of PayloadJSON: the text a handler is given.
// A JSON string column value gives its contents; other JSON is passed as is.
func PayloadText(col json.RawMessage) []byte {
	if col == nil || string(col) == "null" {
		return nil
	}
	var s string
	if err := json.Unmarshal(col, &s); err == nil {
		return []byte(s)
	}
	return []byte(col)
}

// Event is one row of phobos_db_checkpoint_events. JSON field order and
// names are those of the Ruby events API.
type Event struct {
	ID           int64           `json:"id"`
	Topic        *string         `json:"topic"`
	GroupID      *string         `json:"group_id"`
	EntityID     *string         `json:"entity_id"`
	EventTime    *Time           `json:"event_time"`
	EventType    *string         `json:"event_type"`
	EventVersion *string         `json:"event_version"`
	Checksum     *string         `json:"checksum"`
	Payload      json.RawMessage `json:"payload"`
	CreatedAt    *Time           `json:"created_at"`
}

// Failure is one row of phobos_db_checkpoint_failures.
type Failure struct {
	ID             int64           `json:"id"`
	CreatedAt      *Time           `json:"created_at"`
	Topic          *string         `json:"topic"`
	GroupID        *string         `json:"group_id"`
	EntityID       *string         `json:"entity_id"`
	EventTime      *Time           `json:"event_time"`
	EventType      *string         `json:"event_type"`
	EventVersion   *string         `json:"event_version"`
	Checksum       *string         `json:"checksum"`
	Payload        json.RawMessage `json:"payload"`
	Metadata       json.RawMessage `json:"metadata"`
	ErrorClass     *string         `json:"error_class"`
	ErrorMessage   *string         `json:"error_message"`
	ErrorBacktrace json.RawMessage `json:"error_backtrace"`
}

// Time renders as ISO-8601 UTC with milliseconds, as the Ruby API does.
type Time struct{ time.Time }

// TimeLayout is the API's time format (2016-09-19T19:35:26.854Z).
const TimeLayout = "2006-01-02T15:04:05.000Z"

// MarshalJSON renders the time in TimeLayout.
func (t Time) MarshalJSON() ([]byte, error) {
	return []byte(`"` + t.UTC().Format(TimeLayout) + `"`), nil
}

// UnmarshalJSON accepts RFC 3339 times.
func (t *Time) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	tm, err := ParseTime(s)
	if err != nil {
		return err
	}
	t.Time = tm
	return nil
}

// ParseTime accepts RFC 3339, "YYYY-MM-DD HH:MM:SS[.ffffff]" (UTC) and epoch
// seconds or milliseconds.
func ParseTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, l := range []string{time.RFC3339Nano, "2006-01-02 15:04:05.999999999", "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999-07:00", "2006-01-02 15:04:05.999999999 -0700 MST", "2006-01-02"} {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), nil
		}
	}
	var n json.Number = json.Number(s)
	if i, err := n.Int64(); err == nil {
		if i > 100_000_000_000 { // milliseconds
			return time.UnixMilli(i).UTC(), nil
		}
		return time.Unix(i, 0).UTC(), nil
	}
	return time.Time{}, fmt.Errorf("not a time: %q", s)
}

// Store reads and writes the checkpoint tables.
type Store struct {
	d   *db.DB
	now func() time.Time
	// limits holds the length in characters of the tables' limited text
	// columns ("table.column"); on MySQL Rails's string is varchar(255).
	limits map[string]int
}

// NewStore checks that both tables exist.
func NewStore(ctx context.Context, d *db.DB) (*Store, error) {
	for _, t := range []string{EventsTable, FailuresTable} {
		ok, err := d.TableExists(ctx, t)
		if err != nil {
			return nil, fmt.Errorf("checking table %s: %w", t, err)
		}
		if !ok {
			return nil, fmt.Errorf("table %s does not exist: run `deimos migrate up --only checkpoint`", t)
		}
	}
	s := &Store{d: d, now: time.Now}
	if d.Dialect.Name() == "mysql" {
		var err error
		if s.limits, err = textLimits(ctx, d); err != nil {
			return nil, fmt.Errorf("reading the columns of %s and %s: %w", EventsTable, FailuresTable, err)
		}
	}
	return s, nil
}

// textLimits reads the character length of the checkpoint tables' varchar
// and char columns (MySQL/MariaDB, whose strict mode refuses longer values).
func textLimits(ctx context.Context, d *db.DB) (map[string]int, error) {
	rows, err := d.QueryContext(ctx, `SELECT table_name, column_name, character_maximum_length FROM information_schema.columns
WHERE table_schema = DATABASE() AND table_name IN (?, ?) AND data_type IN ('varchar', 'char')`, EventsTable, FailuresTable)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var t, c string
		var n int64
		if err := rows.Scan(&t, &c, &n); err != nil {
			return nil, err
		}
		out[t+"."+c] = int(n)
	}
	return out, rows.Err()
}

// fit cuts a text value to its column's length in characters, where the
// column has one (MySQL): a handler's long error line or event type must
// not make the store fail on every redelivery. Other values pass as they
// are.
func (s *Store) fit(table, col string, v any) any {
	str, ok := v.(string)
	n := s.limits[table+"."+col]
	if !ok || n <= 0 || len(str) <= n {
		return v
	}
	if r := []rune(str); len(r) > n {
		return string(r[:n])
	}
	return v
}

// SetNow overrides the clock (tests).
func (s *Store) SetNow(f func() time.Time) { s.now = f }

func (s *Store) timeArg(t time.Time) any {
	t = t.UTC()
	if s.d.Dialect.Name() == "sqlite" {
		return t.Format("2006-01-02 15:04:05.000000")
	}
	return t
}

func (s *Store) optTime(t *time.Time) any {
	if t == nil {
		return nil
	}
	return s.timeArg(*t)
}

func (s *Store) jsonCol(c string) string {
	if s.d.Dialect.Name() == "postgres" {
		return "CAST(" + c + " AS text)"
	}
	return c
}

// textOf is a JSON column's text: a json or jsonb column cast to text on
// PostgreSQL, a JSON column's text on MySQL 8 (MariaDB's json is text).
func (s *Store) textOf(c string) string {
	if s.d.Dialect.Name() == "mysql" {
		return "CAST(" + c + " AS CHAR)"
	}
	return "CAST(" + c + " AS TEXT)"
}

// EventExists is the dedup check: an event with this topic, group and checksum.
func (s *Store) EventExists(ctx context.Context, topic, group, checksum string) (bool, error) {
	var n int
	err := s.d.QueryRowContext(ctx, s.d.Rebind("SELECT COUNT(*) FROM "+EventsTable+" WHERE topic = ? AND group_id = ? AND checksum = ?"),
		s.fit(EventsTable, "topic", topic), s.fit(EventsTable, "group_id", group), checksum).Scan(&n)
	return n > 0, err
}

// Ack is what a handler acknowledges (all optional).
type Ack struct {
	EntityID     *string
	EventTime    *time.Time
	EventType    *string
	EventVersion *string
}

func nullStr(p *string) any {
	if p == nil {
		return nil
	}
	return *p
}

func nonEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// InsertEvent stores an acknowledged event. phobos_db_checkpoint's index on
// (topic, group_id, checksum) is not unique, but an app may have made it
// so: then an event another consumer stored meanwhile refuses the row
// (db.IsUniqueViolation: MySQL 1062, PostgreSQL 23505, SQLite's UNIQUE),
// which is what dedup wants. That is no error: the event is stored once,
// and ErrDuplicate says so (id 0).
func (s *Store) InsertEvent(ctx context.Context, topic, group, checksum string, payload []byte, a Ack) (int64, error) {
	id, err := s.insertEvent(ctx, s.d, newEvent{topic: topic, group: group, checksum: checksum, payload: payload, ack: a})
	if err != nil && db.IsUniqueViolation(err) {
		return 0, ErrDuplicate
	}
	return id, err
}

// ErrDuplicate: the event or failure is stored already (a unique index
// refused a second copy).
var ErrDuplicate = errors.New("already stored")

// querier is what both the pool and a transaction offer.
type querier interface {
	ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error)
	QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row
}

type newEvent struct {
	topic, group, checksum string
	payload                []byte
	ack                    Ack
}

func (s *Store) insertEvent(ctx context.Context, q querier, e newEvent) (int64, error) {
	stmt := "INSERT INTO " + EventsTable + " (topic, group_id, entity_id, event_time, event_type, event_version, checksum, payload, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
	a := e.ack
	fit := func(col string, v any) any { return s.fit(EventsTable, col, v) }
	args := []any{fit("topic", e.topic), fit("group_id", e.group), fit("entity_id", nullStr(a.EntityID)), s.optTime(a.EventTime),
		fit("event_type", nullStr(a.EventType)), fit("event_version", nullStr(a.EventVersion)), nonEmpty(e.checksum), PayloadJSON(e.payload), s.timeArg(s.now())}
	return s.insert(ctx, q, stmt, args)
}

func (s *Store) insert(ctx context.Context, qr querier, q string, args []any) (int64, error) {
	if s.d.Dialect.Name() == "postgres" {
		var id int64
		err := qr.QueryRowContext(ctx, s.d.Rebind(q+" RETURNING id"), args...).Scan(&id)
		return id, err
	}
	res, err := qr.ExecContext(ctx, s.d.Rebind(q), args...)
	if err != nil {
		return 0, err
	}
	return res.LastInsertId()
}

// NewFailure is what RecordFailure stores.
type NewFailure struct {
	Topic, GroupID, Checksum string
	Ack                      Ack // entity_id, event_time… from the payload fields
	Payload                  []byte
	Metadata                 map[string]any
	ErrorClass, ErrorMessage string
	Backtrace                []string
}

// RecordFailure stores a failure unless one with the same checksum exists
// (any topic or group, as Failure.record does). It reports whether it stored.
func (s *Store) RecordFailure(ctx context.Context, f NewFailure) (bool, error) {
	if f.Checksum != "" {
		var n int
		if err := s.d.QueryRowContext(ctx, s.d.Rebind("SELECT COUNT(*) FROM "+FailuresTable+" WHERE checksum = ?"), f.Checksum).Scan(&n); err != nil {
			return false, err
		}
		if n > 0 {
			return false, nil
		}
	}
	meta, err := json.Marshal(f.Metadata)
	if err != nil {
		return false, err
	}
	bt := f.Backtrace
	if bt == nil {
		bt = []string{}
	}
	btJSON, _ := json.Marshal(bt)
	q := "INSERT INTO " + FailuresTable + " (created_at, topic, group_id, entity_id, event_time, event_type, event_version, checksum, payload, metadata, error_class, error_message, error_backtrace) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
	fit := func(col string, v any) any { return s.fit(FailuresTable, col, v) }
	_, err = s.insert(ctx, s.d, q, []any{s.timeArg(s.now()), fit("topic", f.Topic), fit("group_id", f.GroupID), fit("entity_id", nullStr(f.Ack.EntityID)),
		s.optTime(f.Ack.EventTime), fit("event_type", nullStr(f.Ack.EventType)), fit("event_version", nullStr(f.Ack.EventVersion)), nonEmpty(f.Checksum),
		PayloadJSON(f.Payload), string(meta), fit("error_class", f.ErrorClass), fit("error_message", f.ErrorMessage), string(btJSON)})
	if err != nil && db.IsUniqueViolation(err) {
		// Stored by another consumer since the check above, on a table
		// whose checksum index the app made unique.
		return false, nil
	}
	return err == nil, err
}

// Filter selects events or failures (exact matches; empty means any).
type Filter struct {
	Topic, GroupID, EntityID, EventType string
	Limit, Offset                       int
}

func (f Filter) where() (string, []any) {
	var conds []string
	var args []any
	for _, c := range []struct{ col, v string }{{"topic", f.Topic}, {"group_id", f.GroupID}, {"entity_id", f.EntityID}, {"event_type", f.EventType}} {
		if c.v != "" {
			conds = append(conds, c.col+" = ?")
			args = append(args, c.v)
		}
	}
	if len(conds) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(conds, " AND "), args
}

// order is the API's order (docs/deimos-compat.md §8.4), with id as a final tie-break.
// MySQL has no NULLS LAST: it sorts NULL below every value, so last in
// DESC order already.
func (s *Store) order() string {
	if s.d.Dialect.Name() == "mysql" {
		return " ORDER BY event_time DESC, created_at DESC, id DESC"
	}
	return " ORDER BY event_time DESC NULLS LAST, created_at DESC NULLS LAST, id DESC"
}

func (s *Store) eventCols() string {
	return "id, topic, group_id, entity_id, event_time, event_type, event_version, checksum, " + s.jsonCol("payload") + ", created_at"
}

func (s *Store) failureCols() string {
	return "id, created_at, topic, group_id, entity_id, event_time, event_type, event_version, checksum, " + s.jsonCol("payload") + ", " + s.jsonCol("metadata") + ", error_class, error_message, " + s.jsonCol("error_backtrace")
}

type scanner interface{ Scan(...any) error }

func scanEvent(r scanner) (Event, error) {
	var e Event
	var et, ca, payload any
	err := r.Scan(&e.ID, &e.Topic, &e.GroupID, &e.EntityID, &et, &e.EventType, &e.EventVersion, &e.Checksum, &payload, &ca)
	e.EventTime, e.CreatedAt, e.Payload = toTime(et), toTime(ca), toJSON(payload)
	return e, err
}

func scanFailure(r scanner) (Failure, error) {
	var f Failure
	var et, ca, payload, meta, bt any
	err := r.Scan(&f.ID, &ca, &f.Topic, &f.GroupID, &f.EntityID, &et, &f.EventType, &f.EventVersion, &f.Checksum, &payload, &meta, &f.ErrorClass, &f.ErrorMessage, &bt)
	f.EventTime, f.CreatedAt = toTime(et), toTime(ca)
	f.Payload, f.Metadata, f.ErrorBacktrace = toJSON(payload), toJSON(meta), toJSON(bt)
	return f, err
}

func toTime(v any) *Time {
	switch x := v.(type) {
	case time.Time:
		return &Time{x.UTC()}
	case string:
		if t, err := ParseTime(x); err == nil {
			return &Time{t}
		}
	case []byte:
		return toTime(string(x))
	}
	return nil
}

func toJSON(v any) json.RawMessage {
	var b []byte
	switch x := v.(type) {
	case nil:
		return json.RawMessage("null")
	case string:
		b = []byte(x)
	case []byte:
		b = x
	default:
		b, _ = json.Marshal(x)
	}
	if !json.Valid(b) { // a value a Ruby writer left as text: embed it as a string
		b, _ = json.Marshal(string(b))
	}
	return json.RawMessage(b)
}

// ListEvents lists events in the API's order.
func (s *Store) ListEvents(ctx context.Context, f Filter) ([]Event, error) {
	return list(ctx, s, s.eventCols(), EventsTable, f, scanEvent)
}

// GetEvent returns one event or ErrNotFound.
func (s *Store) GetEvent(ctx context.Context, id int64) (Event, error) {
	return getRow(ctx, s, s.eventCols(), EventsTable, id, scanEvent)
}

// ListFailures lists failures in the API's order.
func (s *Store) ListFailures(ctx context.Context, f Filter) ([]Failure, error) {
	return list(ctx, s, s.failureCols(), FailuresTable, f, scanFailure)
}

// GetFailure returns one failure or ErrNotFound.
func (s *Store) GetFailure(ctx context.Context, id int64) (Failure, error) {
	return getRow(ctx, s, s.failureCols(), FailuresTable, id, scanFailure)
}

// list runs a filtered, ordered, paged SELECT over one of the two tables.
func list[T any](ctx context.Context, s *Store, cols, table string, f Filter, scan func(scanner) (T, error)) ([]T, error) {
	w, args := f.where()
	rows, err := s.d.QueryContext(ctx, s.d.Rebind("SELECT "+cols+" FROM "+table+w+s.order()+" LIMIT ? OFFSET ?"), append(args, f.Limit, f.Offset)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		x, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, x)
	}
	return out, rows.Err()
}

// getRow reads one row by id, ErrNotFound when there is none.
func getRow[T any](ctx context.Context, s *Store, cols, table string, id int64, scan func(scanner) (T, error)) (T, error) {
	x, err := scan(s.d.QueryRowContext(ctx, s.d.Rebind("SELECT "+cols+" FROM "+table+" WHERE id = ?"), id))
	if errors.Is(err, sql.ErrNoRows) {
		return x, ErrNotFound
	}
	return x, err
}

// CountFailures counts all failures (unfiltered, as the API does).
func (s *Store) CountFailures(ctx context.Context) (int64, error) {
	var n int64
	err := s.d.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+FailuresTable).Scan(&n)
	return n, err
}

// DeleteFailure deletes one failure (ErrNotFound when absent).
func (s *Store) DeleteFailure(ctx context.Context, id int64) error {
	res, err := s.d.ExecContext(ctx, s.d.Rebind("DELETE FROM "+FailuresTable+" WHERE id = ?"), id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

func jsonUnmarshal(b []byte, v any) error {
	if b == nil {
		return nil
	}
	return json.Unmarshal(b, v)
}
