package outbox

import (
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"strconv"
	"sync"
	"time"
	"unsafe"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
)

// PostgreSQL type OIDs the fast fetch reads.
const (
	oidBytea       = 17
	oidInt8        = 20
	oidInt2        = 21
	oidInt4        = 23
	oidText        = 25
	oidJSON        = 114
	oidVarchar     = 1043
	oidTimestamp   = 1114
	oidTimestamptz = 1184
	oidJSONB       = 3802
)

// errSlowPath: the result's column types are not the ones fetchPG reads
// (an unusual schema); the caller fetches through database/sql instead.
var errSlowPath = errors.New("outbox: column types need the generic fetch")

// fetchPG is fetchAfter on PostgreSQL through pgx itself: the prepared
// statement's binary results read straight from the row buffers, each
// batch's message, key and partition key bytes copied into a few large
// slabs (no allocation per row), the topic string shared.
func (s *store) fetchPG(ctx context.Context, q string, args []any, topic string, limit int, sl *slab) ([]Message, error) {
	conn, err := s.d.Conn(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	var out []Message
	err = conn.Raw(func(dc any) error {
		sc, ok := dc.(*stdlib.Conn)
		if !ok {
			return errSlowPath
		}
		if cd := sc.Conn().PgConn().CustomData(); cd[widenedKey] == nil {
			cd[widenedKey] = WidenReceiveBuffer(sc.Conn().PgConn().Conn())
		}
		rows, err := sc.Conn().Query(ctx, q, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		// A prefetched batch is read once the batch before it is sent
		// and deleted: meanwhile the server writes the whole result into
		// the socket, without stopping each time the relay has read what
		// was there (docs/outbox.md, Batch). Not longer than readAfterMax:
		// a query left unread holds its snapshot (and VACUUM's horizon)
		// while Kafka is failing.
		if sl.readAfter != nil {
			t := time.NewTimer(readAfterMax)
			select {
			case <-sl.readAfter:
			case <-t.C:
			}
			t.Stop()
		}
		if !fastColumns(rows.FieldDescriptions(), s.hasHeaders) {
			return errSlowPath
		}
		jsonb := s.hasHeaders && rows.FieldDescriptions()[6].DataTypeOID == oidJSONB
		out = make([]Message, 0, limit)
		pks := make([]string, 0, limit)
		keep := sl.keep
		for rows.Next() {
			v := rows.RawValues()
			m := Message{Topic: topic}
			if m.ID, err = pgInt(v[0]); err != nil {
				return err
			}
			if string(v[1]) != topic {
				m.Topic = string(v[1])
			}
			m.Message, m.Key = keep(v[2]), keep(v[3])
			if v[4] != nil {
				b := keep(v[4])
				pks = append(pks, unsafe.String(unsafe.SliceData(b), len(b)))
				m.PartitionKey = &pks[len(pks)-1]
			}
			m.CreatedAt = pgTimestamp(v[5])
			if s.hasHeaders && len(v[6]) > 0 {
				h := v[6]
				if jsonb { // binary jsonb: a version byte, then the text
					h = h[1:] // version byte
				}
				if len(h) > 0 {
					m.Headers = keep(h)
				}
			}
			out = append(out, m)
		}
		return rows.Err()
	})
	return out, err
}

// readAfterMax bounds how long a prefetched batch's rows wait unread.
const readAfterMax = 500 * time.Millisecond

// widenedKey marks, in a pgx connection's custom data, that its receive
// buffer was widened (the size set, 0 when left alone).
const widenedKey = "deimos.outbox.receive_buffer"

// slab holds a batch's values: keep copies a value into a large shared
// buffer (a new one when it is full), so a batch costs a few allocations
// however many rows it has. A pooled slab takes its buffers from slabPool,
// and release gives them back for the next batch (no zeroing, no garbage).
type slab struct {
	buf    []byte
	pooled bool
	bufs   []*[]byte // the pooled buffers taken
	// readAfter: on PostgreSQL, the query is sent at once but its rows
	// are read only once readAfter is closed (nil: at once).
	readAfter <-chan struct{}
}

// slabSize is a slab buffer's size; a larger value gets a buffer of its own.
const slabSize = 1 << 20

var slabPool = sync.Pool{New: func() any { b := make([]byte, 0, slabSize); return &b }}

// release gives the pooled buffers back. Only once nothing refers to the
// batch's values any more: its records acknowledged and its rows deleted.
func (s *slab) release() {
	for _, p := range s.bufs {
		*p = (*p)[:0]
		slabPool.Put(p)
	}
	s.bufs, s.buf = nil, nil
}

// keep returns a copy of b; nil (SQL NULL) stays nil and empty stays empty.
func (s *slab) keep(b []byte) []byte {
	if b == nil {
		return nil
	}
	if len(b) == 0 {
		return []byte{} // empty, not NULL (no allocation: zero-size)
	}
	if len(s.buf)+len(b) > cap(s.buf) {
		if s.pooled && len(b) <= slabSize {
			p := slabPool.Get().(*[]byte)
			s.bufs = append(s.bufs, p)
			s.buf = (*p)[:0]
		} else {
			s.buf = make([]byte, 0, max(slabSize, len(b)))
		}
	}
	n := len(s.buf)
	s.buf = append(s.buf, b...)
	return s.buf[n:len(s.buf):len(s.buf)]
}

// fastColumns reports whether fetchPG can read a result: id, topic,
// message, key, partition_key, created_at [, headers] in the types and
// formats it parses.
func fastColumns(fds []pgconn.FieldDescription, headers bool) bool {
	want := 6
	if headers {
		want = 7
	}
	if len(fds) != want {
		return false
	}
	bin := func(i int, oids ...uint32) bool {
		if fds[i].Format != pgx.BinaryFormatCode {
			return false
		}
		for _, o := range oids {
			if fds[i].DataTypeOID == o {
				return true
			}
		}
		return false
	}
	// text and varchar read the same in both formats.
	text := func(i int) bool { return fds[i].DataTypeOID == oidText || fds[i].DataTypeOID == oidVarchar }
	ok := bin(0, oidInt8, oidInt4, oidInt2) && text(1) && bin(2, oidBytea) && bin(3, oidBytea) && text(4) &&
		bin(5, oidTimestamp, oidTimestamptz)
	if ok && headers {
		ok = text(6) || fds[6].DataTypeOID == oidJSON || bin(6, oidJSONB)
	}
	return ok
}

// pgInt reads a binary int2, int4 or int8.
func pgInt(b []byte) (int64, error) {
	switch len(b) {
	case 8:
		return int64(binary.BigEndian.Uint64(b)), nil
	case 4:
		return int64(int32(binary.BigEndian.Uint32(b))), nil
	case 2:
		return int64(int16(binary.BigEndian.Uint16(b))), nil
	}
	return 0, errors.New("outbox: id of " + strconv.Itoa(len(b)) + " bytes")
}

// pgEpoch is PostgreSQL's timestamp zero, 2000-01-01 00:00 UTC.
var pgEpoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// pgTimestamp reads a binary timestamp (microseconds since pgEpoch; the
// wall time of a timestamp without time zone is UTC, as parseDBTime reads
// it); NULL and ±infinity give the zero time.
func pgTimestamp(b []byte) time.Time {
	if len(b) != 8 {
		return time.Time{}
	}
	us := int64(binary.BigEndian.Uint64(b))
	if us == 1<<63-1 || us == -1<<63 {
		return time.Time{}
	}
	return pgEpoch.Add(time.Duration(us) * time.Microsecond)
}

// fetchRows is fetchAfter's query on every database: pgx's own fast path on
// PostgreSQL (falling back when the columns are unusual), database/sql
// elsewhere.
func (s *store) fetchRows(ctx context.Context, q string, args []any, topic string, limit int, sl *slab) ([]Message, error) {
	if s.d.Dialect.Name() == "postgres" && !s.slowPG.Load() {
		out, err := s.fetchPG(ctx, s.d.Rebind(q), args, topic, limit, sl)
		if !errors.Is(err, errSlowPath) {
			return out, err
		}
		s.slowPG.Store(true)
	}
	rows, err := s.d.QueryContext(ctx, s.d.Rebind(q), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	if s.d.Dialect.Name() == "mysql" && !s.slowScan.Load() {
		return s.scanMySQL(rows, topic, limit, sl)
	}
	return s.scanMessages(rows, limit)
}

// scanMySQL reads fetched rows on MySQL as scanMessages does, with the
// driver's buffers (sql.RawBytes) copied into per-batch slabs and
// created_at read as a time (parseTime): no allocation per row.
func (s *store) scanMySQL(rows *sql.Rows, topic string, limit int, sl *slab) ([]Message, error) {
	out := make([]Message, 0, limit)
	pks := make([]string, 0, limit)
	var id int64
	var tp, msg, key, pk, hdr sql.RawBytes
	var created sql.NullTime
	dst := []any{&id, &tp, &msg, &key, &pk, &created}
	if s.hasHeaders {
		dst = append(dst, &hdr)
	}
	for rows.Next() {
		if err := rows.Scan(dst...); err != nil {
			return nil, err
		}
		m := Message{ID: id, Topic: topic}
		if string(tp) != topic {
			m.Topic = string(tp)
		}
		m.Message, m.Key = sl.keep(msg), sl.keep(key)
		if pk != nil {
			b := sl.keep(pk)
			pks = append(pks, unsafe.String(unsafe.SliceData(b), len(b)))
			m.PartitionKey = &pks[len(pks)-1]
		}
		if created.Valid {
			m.CreatedAt = utcWall(created.Time)
		}
		if len(hdr) > 0 {
			m.Headers = sl.keep(hdr)
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// scanMessages reads fetched rows through database/sql.
func (s *store) scanMessages(rows *sql.Rows, limit int) ([]Message, error) {
	out := make([]Message, 0, limit)
	for rows.Next() {
		var m Message
		var pk sql.NullString
		var created any
		dst := []any{&m.ID, &m.Topic, &m.Message, &m.Key, &pk, &created}
		var hdr sql.NullString
		if s.hasHeaders {
			dst = append(dst, &hdr)
		}
		if err := rows.Scan(dst...); err != nil {
			return nil, err
		}
		if pk.Valid {
			v := pk.String
			m.PartitionKey = &v
		}
		if hdr.Valid && hdr.String != "" {
			m.Headers = []byte(hdr.String)
		}
		m.CreatedAt = parseDBTime(created)
		out = append(out, m)
	}
	return out, rows.Err()
}
