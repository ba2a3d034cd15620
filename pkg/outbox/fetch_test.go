package outbox

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// The fast fetches (PostgreSQL: pgx's binary results read from the row
// buffer; MySQL: the driver's buffers as sql.RawBytes) give exactly what
// the generic database/sql scan gives: NULL
// and empty messages, keys and partition keys kept apart, every byte
// value, large values across the copy buffers, created_at to the
// microsecond, headers; with and without the headers column, in batches
// that continue after an id.
func TestFastFetchMatchesGeneric(t *testing.T) {
	for name, url := range servers(t) {
		for _, groups := range [][]string{{"outbox"}, {"outbox", "headers"}} {
			t.Run(name+"/"+strings.Join(groups, "+"), func(t *testing.T) { testFastFetch(t, url(t), groups) })
		}
	}
}

func testFastFetch(t *testing.T, url string, groups []string) {
	ctx := context.Background()
	d := migrated(t, url, groups...)
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	empty, pk := "", "p-1"
	rows := []Row{
		{Topic: "f", Message: nil, Key: nil},
		{Topic: "f", Message: []byte{}, Key: []byte{}, PartitionKey: &empty},
		{Topic: "f", Message: all, Key: all[:17], PartitionKey: &pk},
		{Topic: "f", Message: bytes.Repeat([]byte{7}, 3<<20), Key: []byte("big")},
		{Topic: "g", Message: []byte("other topic")},
	}
	if len(groups) == 2 {
		rows = append(rows, Row{Topic: "f", Message: []byte("h"), Headers: map[string]string{"a": "1", "é": "ü"}})
	}
	for i := 0; i < 2500; i++ {
		p := fmt.Sprint(i % 7)
		rows = append(rows, Row{Topic: "f", Message: []byte(fmt.Sprintf("m%d", i)), Key: []byte(fmt.Sprint(i % 10)), PartitionKey: &p})
	}
	if err := Insert(ctx, d.DB, d.Dialect, rows, time.Date(2026, 3, 4, 5, 6, 7, 123456000, time.UTC)); err != nil {
		t.Fatal(err)
	}
	fast, err := newStore(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	slow, err := newStore(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	slow.slowPG.Store(true)
	slow.slowScan.Store(true)
	var after int64 = -1
	n := 0
	for {
		a, err := fast.fetchAfter(ctx, "f", after, 1000)
		if err != nil {
			t.Fatal(err)
		}
		b, err := slow.fetchAfter(ctx, "f", after, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if fast.slowPG.Load() || fast.slowScan.Load() {
			t.Fatal("the fast fetch fell back to the generic one")
		}
		if len(a) != len(b) {
			t.Fatalf("after %d: fast %d rows, generic %d", after, len(a), len(b))
		}
		for i := range a {
			if !sameMessage(a[i], b[i]) {
				t.Fatalf("row %d: fast %s\ngeneric %s", a[i].ID, show(a[i]), show(b[i]))
			}
		}
		n += len(a)
		if len(a) < 1000 {
			break
		}
		after = a[len(a)-1].ID
	}
	if want := len(rows) - 1; n != want {
		t.Fatalf("%d rows fetched, want %d", n, want)
	}
}

func sameMessage(a, b Message) bool {
	nilEq := func(x, y []byte) bool { return (x == nil) == (y == nil) && bytes.Equal(x, y) }
	pkEq := (a.PartitionKey == nil) == (b.PartitionKey == nil) && (a.PartitionKey == nil || *a.PartitionKey == *b.PartitionKey)
	return a.ID == b.ID && a.Topic == b.Topic && nilEq(a.Message, b.Message) && nilEq(a.Key, b.Key) && pkEq &&
		a.CreatedAt.Equal(b.CreatedAt) && !a.CreatedAt.IsZero() && nilEq(a.Headers, b.Headers)
}

func show(m Message) string {
	pk := "<nil>"
	if m.PartitionKey != nil {
		pk = fmt.Sprintf("%q", *m.PartitionKey)
	}
	cut := func(b []byte) string {
		if b == nil {
			return "<nil>"
		}
		if len(b) > 40 {
			return fmt.Sprintf("%q…(%d bytes)", b[:40], len(b))
		}
		return fmt.Sprintf("%q", b)
	}
	return fmt.Sprintf("id=%d topic=%q msg=%s key=%s pk=%s created=%s headers=%s", m.ID, m.Topic, cut(m.Message), cut(m.Key), pk, m.CreatedAt, cut(m.Headers))
}
