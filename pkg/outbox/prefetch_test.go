package outbox

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/stdlib"

	"github.com/deimos-cli/deimos/internal/testenv"
)

// The receive buffer follows net.core.rmem_max up to 4 MiB, and is left to
// the kernel's own tuning when less than 1 MiB may be set.
func TestReceiveBufferFor(t *testing.T) {
	for _, tc := range []struct{ max, want int }{
		{0, 0}, {212992, 0}, {1 << 20, 1 << 20}, {2 << 20, 2 << 20}, {4 << 20, 4 << 20}, {32 << 20, 4 << 20},
	} {
		if got := receiveBufferFor(tc.max); got != tc.want {
			t.Errorf("receiveBufferFor(%d) = %d, want %d", tc.max, got, tc.want)
		}
	}
}

// On PostgreSQL a fetch widens its connection's receive buffer (once per
// connection, as far as net.core.rmem_max lets it) and, given readAfter, sends its query at once but reads the
// rows only once readAfter is closed: the server has finished sending
// (its backend is idle) while the fetch still waits; then the rows are the
// ones a plain fetch reads. Left unclosed, readAfter holds the rows back
// for readAfterMax only.
func TestPrefetchReadsAfterTheBatchBefore(t *testing.T) {
	ctx := context.Background()
	d := migrated(t, testenv.Postgres(t))
	for i := 0; i < 50; i++ {
		rubyInsert(t, d, "r", []byte(fmt.Sprint(i)), []byte("k"), nil)
	}
	st, err := newStore(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	d.SetMaxOpenConns(1) // the fetch's connection is the one checked below
	want, err := st.fetchAfter(ctx, "r", 10, 100)
	if err != nil || len(want) != 40 {
		t.Fatalf("%d rows, %v", len(want), err)
	}
	c, err := d.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var set, have int
	var pid int32
	err = c.Raw(func(dc any) error {
		pc := dc.(*stdlib.Conn).Conn().PgConn()
		set, _ = pc.CustomData()[widenedKey].(int)
		pid = int32(pc.PID())
		raw, err := pc.Conn().(syscall.Conn).SyscallConn()
		if err != nil {
			return err
		}
		return raw.Control(func(fd uintptr) { have, _ = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF) })
	})
	c.Close()
	if err != nil {
		t.Fatal(err)
	}
	// (With net.core.rmem_max under 1 MiB, receiveBufferFor is 0: the
	// buffer is left to the kernel.)
	if want := receiveBufferFor(rmemMax()); set != want || have < want {
		t.Fatalf("receive buffer: %d set (want %d, rmem_max %d), SO_RCVBUF %d", set, want, rmemMax(), have)
	}

	// Watch the fetch's backend from a connection of its own.
	watch, err := sql.Open("pgx", testenv.Postgres(t))
	if err != nil {
		t.Fatal(err)
	}
	defer watch.Close()
	var t0 time.Time
	if err := watch.QueryRowContext(ctx, "SELECT clock_timestamp()").Scan(&t0); err != nil {
		t.Fatal(err)
	}
	ready := make(chan struct{})
	done := make(chan []Message, 1)
	go func() {
		m, err := st.fetchInto(ctx, "r", 10, 100, &slab{readAfter: ready})
		if err != nil {
			t.Error(err)
		}
		done <- m
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var state, query string
		var started bool
		err := watch.QueryRowContext(ctx, "SELECT state, query, query_start > $2 FROM pg_stat_activity WHERE pid = $1", pid, t0).Scan(&state, &query, &started)
		if err != nil {
			t.Fatal(err)
		}
		if started && state == "idle" && strings.HasPrefix(query, "SELECT "+st.cols) {
			break // the server has sent the whole result of the fetch's query
		}
		if time.Now().After(deadline) {
			t.Fatalf("the fetch's backend never finished its query: %s %q", state, query)
		}
		time.Sleep(10 * time.Millisecond)
	}
	select {
	case <-done:
		t.Fatal("the fetch read its rows before readAfter was closed")
	default:
	}
	close(ready)
	got := <-done
	if len(got) != len(want) {
		t.Fatalf("%d rows, want %d", len(got), len(want))
	}
	for i := range got {
		if !sameMessage(got[i], want[i]) {
			t.Fatalf("row %d: %s, want %s", i, show(got[i]), show(want[i]))
		}
	}

	// Never closed: the rows are read after readAfterMax.
	start := time.Now()
	got, err = st.fetchInto(ctx, "r", 10, 100, &slab{readAfter: make(chan struct{})})
	if err != nil || len(got) != len(want) {
		t.Fatalf("%d rows, %v", len(got), err)
	}
	if el := time.Since(start); el < readAfterMax || el > readAfterMax+5*time.Second {
		t.Fatalf("an unclosed readAfter held the rows %v, want about %v", el, readAfterMax)
	}
}
