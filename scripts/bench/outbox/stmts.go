package main

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/deimos-cli/deimos/pkg/db"
)

// stmt is one normalised statement's counters over a measurement:
// pg_stat_statements on PostgreSQL (executor + planner time), the
// performance_schema digest summary on MariaDB (server time).
type stmt struct {
	query  string
	calls  int64
	total  time.Duration
	rows   int64 // returned or affected
	blocks int64 // PostgreSQL: shared buffers hit or read; MariaDB: rows examined
}

// resetStmts clears the statement counters.
func resetStmts(ctx context.Context, d *db.DB) {
	q := "SELECT pg_stat_statements_reset()"
	if d.Dialect.Name() == "mysql" {
		q = "TRUNCATE TABLE performance_schema.events_statements_summary_by_digest"
	}
	rows, err := d.QueryContext(ctx, q)
	check(err)
	rows.Close()
}

// readStmts returns the counters since resetStmts, without the bench's own
// statements (the reset and this read).
func readStmts(ctx context.Context, d *db.DB) []stmt {
	q := `SELECT query, calls, total_exec_time + total_plan_time, rows, shared_blks_hit + shared_blks_read
		FROM pg_stat_statements WHERE query NOT LIKE '%pg_stat_statements%'`
	if d.Dialect.Name() == "mysql" {
		q = `SELECT COALESCE(DIGEST_TEXT, ''), COUNT_STAR, SUM_TIMER_WAIT / 1000000000.0, SUM_ROWS_SENT + SUM_ROWS_AFFECTED, SUM_ROWS_EXAMINED
		FROM performance_schema.events_statements_summary_by_digest
		WHERE COALESCE(DIGEST_TEXT, '') NOT LIKE '%performance_schema%'`
	}
	rows, err := d.QueryContext(ctx, q)
	check(err)
	defer rows.Close()
	var out []stmt
	for rows.Next() {
		var s stmt
		var ms float64
		check(rows.Scan(&s.query, &s.calls, &ms, &s.rows, &s.blocks))
		s.total = time.Duration(ms * float64(time.Millisecond))
		out = append(out, s)
	}
	check(rows.Err())
	sort.Slice(out, func(i, j int) bool { return out[i].total > out[j].total })
	return out
}

func sumCalls(ss []stmt) (n int64) {
	for _, s := range ss {
		n += s.calls
	}
	return n
}

var spaces = regexp.MustCompile(`\s+`)

// printStmts prints the top statements by total time, per million rows
// relayed (n) so runs of different sizes compare.
func printStmts(ss []stmt, n, top int, dialect string) {
	var total time.Duration
	for _, s := range ss {
		total += s.total
	}
	unit := "blocks"
	if dialect == "mysql" {
		unit = "examined"
	}
	fmt.Printf("      top statements by total time (of %d statements, %d calls, %.0f ms; per million rows: calls, ms, rows, %s):\n",
		len(ss), sumCalls(ss), ms(total), unit)
	perMil := 1e6 / float64(n)
	for i, s := range ss {
		if i == top {
			break
		}
		q := spaces.ReplaceAllString(strings.TrimSpace(s.query), " ")
		if len(q) > 110 {
			q = q[:107] + "..."
		}
		fmt.Printf("      %5.1f%% %8.0f calls %8.0f ms %9.0f rows %9.0f %-8s %s\n", 100*float64(s.total)/float64(max(total, 1)),
			float64(s.calls)*perMil, ms(s.total)*perMil, float64(s.rows)*perMil, float64(s.blocks)*perMil, unit, q)
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
