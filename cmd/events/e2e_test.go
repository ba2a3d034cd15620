package events_test

// End-to-end tests of the database consumers through the real binary:
// consume --sink table:…, consume --exec … --checkpoint, events list/show/
// retry/delete and events serve, against kfake and a real PostgreSQL and
// MariaDB (and SQLite where the scenario allows).

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/deimos-cli/deimos/internal/testenv"
	"github.com/deimos-cli/deimos/pkg/db"
	"github.com/deimos-cli/deimos/pkg/migrate"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func binary(t *testing.T) string { return testenv.Binary(t) }

type result struct {
	out, err string
	code     int
}

func run(t *testing.T, dir string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary(t), args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "DEIMOS_CONFIG=")
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run %v: %v", args, err)
	}
	return result{o.String(), e.String(), code}
}

func produce(t *testing.T, brokers []string, topic string, kvs ...string) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.DefaultProduceTopic(topic), kgo.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var recs []*kgo.Record
	for i := 0; i < len(kvs); i += 2 {
		r := &kgo.Record{Key: []byte(kvs[i]), Partition: 0}
		if kvs[i+1] != "" {
			r.Value = []byte(kvs[i+1])
		}
		recs = append(recs, r)
	}
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

func dump(t *testing.T, d *db.DB, q string) []string { return testenv.Rows(t, d, q) }

// servers runs f on each database server deimos supports (PostgreSQL,
// MySQL/MariaDB): the scenarios that need row locks or concurrent
// connections.
func servers(t *testing.T, f func(t *testing.T, dl testenv.Dialect)) {
	for _, dl := range testenv.Dialects(t) {
		if dl.Name != "sqlite" {
			t.Run(dl.Name, func(t *testing.T) { f(t, dl) })
		}
	}
}

// dialects runs f on every database deimos supports.
func dialects(t *testing.T, f func(t *testing.T, dl testenv.Dialect)) {
	for _, dl := range testenv.Dialects(t) {
		t.Run(dl.Name, func(t *testing.T) { f(t, dl) })
	}
}

// setup starts a broker with the topics and opens a fresh database of dl.
func setup(t *testing.T, dl testenv.Dialect, topics ...string) ([]string, string, *db.DB) {
	t.Helper()
	brokers := testenv.Brokers(t, 1, topics...)
	url := dl.URL(t)
	d, err := db.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return brokers, url, d
}

// create runs a CREATE TABLE written for PostgreSQL, adapted to d's dialect.
func create(t *testing.T, d *db.DB, q string) {
	t.Helper()
	if _, err := d.Exec(testenv.DDL(d.Dialect.Name(), q)); err != nil {
		t.Fatal(err)
	}
}

// lockWaiters counts the sessions of d's database waiting for a row lock.
// InnoDB refreshes what information_schema.innodb_trx shows only when it
// was last read over 0.1 s ago, so on MySQL each call first waits that long.
func lockWaiters(d *db.DB) int {
	q := `SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND state = 'active'`
	if d.Dialect.Name() == "mysql" {
		time.Sleep(150 * time.Millisecond)
		q = `SELECT COUNT(*) FROM information_schema.innodb_trx WHERE trx_state = 'LOCK WAIT'
AND trx_mysql_thread_id IN (SELECT id FROM information_schema.processlist WHERE db = DATABASE())`
	}
	var c int
	_ = d.QueryRow(q).Scan(&c)
	return c
}

func TestTableSinkThroughBinary(t *testing.T) { servers(t, testTableSinkThroughBinary) }

func testTableSinkThroughBinary(t *testing.T, dl testenv.Dialect) {
	brokers, url, d := setup(t, dl, "widgets")
	dir := t.TempDir()
	create(t, d, `CREATE TABLE widgets (id bigint PRIMARY KEY, name varchar, price float, created_at timestamp, updated_at timestamp)`)
	produce(t, brokers, "widgets",
		"1", `{"id":1,"name":"a","price":1.5}`, "2", `{"id":2,"name":"b"}`, "1", `{"id":1,"name":"a2","price":3}`,
		"3", `{"id":3,"name":"c"}`, "2", "")
	b := strings.Join(brokers, ",")
	r := run(t, dir, "-b", b, "--db", url, "consume", "-t", "widgets", "-g", "sinkers", "-e", "--sink", "table:widgets")
	if r.code != 0 {
		t.Fatalf("consume: %d %s", r.code, r.err)
	}
	want := []string{"1|a2|3", "3|c|<nil>"}
	if got := dump(t, d, "SELECT id, name, price FROM widgets ORDER BY id"); !reflect.DeepEqual(got, want) {
		t.Fatalf("table = %v, want %v (stderr %s)", got, want, r.err)
	}
	// Offsets were committed: a second run with the group reads nothing new.
	snapshot := dump(t, d, "SELECT * FROM widgets ORDER BY id")
	if r = run(t, dir, "-b", b, "--db", url, "consume", "-t", "widgets", "-g", "sinkers", "-e", "--sink", "table:widgets"); r.code != 0 {
		t.Fatalf("second consume: %d %s", r.code, r.err)
	}
	if got := dump(t, d, "SELECT * FROM widgets ORDER BY id"); !reflect.DeepEqual(got, snapshot) {
		t.Fatalf("second run changed the table: %v", got)
	}
	// Redelivery of everything from the beginning (new group) leaves the rows identical.
	if r = run(t, dir, "-b", b, "--db", url, "consume", "-t", "widgets", "-g", "other", "-e", "--sink", "table:widgets", "--no-compact"); r.code != 0 {
		t.Fatalf("redelivery: %d %s", r.code, r.err)
	}
	if got := dump(t, d, "SELECT id, name, price, created_at FROM widgets ORDER BY id"); len(got) != 2 || !strings.HasPrefix(got[0], "1|a2|3|") {
		t.Fatalf("after redelivery: %v", got)
	}
	// Bad input: unknown table and a bad sink spec are usage errors.
	if r = run(t, dir, "-b", b, "--db", url, "consume", "-t", "widgets", "-e", "--sink", "table:nope"); r.code != 2 || !strings.Contains(r.err, "does not exist") {
		t.Fatalf("missing table: %d %s", r.code, r.err)
	}
	if r = run(t, dir, "-b", b, "--db", url, "consume", "-t", "widgets", "-e", "--sink", "table:x;drop"); r.code != 2 {
		t.Fatalf("bad table: %d %s", r.code, r.err)
	}
}

// TestTableSinkSurvivesKill proves a SIGKILL in the middle of a batch
// transaction loses nothing: phase 1 is consumed and its offsets are seen
// committed; then a row lock held by the test makes the consumer's phase-2
// upsert block inside its transaction (seen in pg_stat_activity or
// information_schema.innodb_trx), and it is
// killed there. The restart (same group: offsets resume) must leave exactly
// the expected table.
func TestTableSinkSurvivesKill(t *testing.T) { servers(t, testTableSinkSurvivesKill) }

func testTableSinkSurvivesKill(t *testing.T, dl testenv.Dialect) {
	brokers, url, d := setup(t, dl, "kv")
	dir := t.TempDir()
	create(t, d, `CREATE TABLE kv (k varchar PRIMARY KEY, v integer, updated_at timestamp)`)
	ctx := context.Background()
	const n1, n2 = 2000, 3000
	var kvs []string
	for i := 0; i < n1; i++ { // keys k000..k199
		kvs = append(kvs, fmt.Sprintf("k%03d", i%200), fmt.Sprintf(`{"v":%d}`, i))
	}
	produce(t, brokers, "kv", kvs...)
	b := strings.Join(brokers, ",")
	cmd := exec.Command(binary(t), "-b", b, "--db", url, "consume", "-t", "kv", "-g", "killme", "--sink", "table:kv", "--no-compact")
	cmd.Dir = dir
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	t.Cleanup(func() {
		if !killed {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	adm := kadm.NewClient(mustClient(t, brokers))
	committed := func() int64 {
		offs, err := adm.FetchOffsets(ctx, "killme")
		if err != nil {
			return -1
		}
		if o, ok := offs.Lookup("kv", 0); ok && o.Err == nil {
			return o.At
		}
		return -1
	}
	waitFor(t, 30*time.Second, "phase 1 committed", func() bool { return committed() == n1 }, &errb)
	// Hold the row lock of k150 in an open transaction.
	lockTx, err := d.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = lockTx.Rollback() }()
	if _, err := lockTx.Exec(`UPDATE kv SET v = -1 WHERE k = 'k150'`); err != nil {
		t.Fatal(err)
	}
	kvs = kvs[:0]
	for j := 0; j < n2; j++ { // keys k100..k299: k150 is in every slice
		kvs = append(kvs, fmt.Sprintf("k%03d", 100+j%200), fmt.Sprintf(`{"v":%d}`, 10000+j))
	}
	produce(t, brokers, "kv", kvs...)
	waitFor(t, 30*time.Second, "the consumer blocked on the row lock", func() bool { return lockWaiters(d) > 0 }, &errb)
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	killed = true
	if err := lockTx.Rollback(); err != nil {
		t.Fatal(err)
	}
	if got := committed(); got >= n1+n2 {
		t.Fatalf("offsets committed past the blocked batch: %d", got)
	}
	// The killed member never left the group: evict it, as its session
	// timeout (45 s) would, so the restart does not wait for it.
	evict(t, adm, brokers, "killme")
	r := run(t, dir, "-b", b, "--db", url, "consume", "-t", "kv", "-g", "killme", "-e", "--sink", "table:kv", "--no-compact")
	if r.code != 0 {
		t.Fatalf("restart: %d %s", r.code, r.err)
	}
	got := dump(t, d, "SELECT k, v FROM kv ORDER BY k")
	var want []string
	for k := 0; k < 300; k++ {
		v := 1800 + k // phase 1: last i with i%200 == k
		if k >= 100 {
			v = 10000 + 2800 + (k - 100) // phase 2: last j with 100+j%200 == k
		}
		want = append(want, fmt.Sprintf("k%03d|%d", k, v))
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("table after kill and restart differs: %d rows, first diff at %v", len(got), firstDiff(got, want))
	}
	if got := committed(); got != n1+n2 {
		t.Fatalf("committed offset after restart = %d, want %d", got, n1+n2)
	}
}

func firstDiff(got, want []string) string {
	for i := range want {
		if i >= len(got) || got[i] != want[i] {
			g := "<none>"
			if i < len(got) {
				g = got[i]
			}
			return fmt.Sprintf("row %d: got %s want %s", i, g, want[i])
		}
	}
	return "extra rows"
}

func mustClient(t *testing.T, brokers []string) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func waitFor(t *testing.T, d time.Duration, what string, ok func() bool, log *bytes.Buffer) {
	t.Helper()
	if !testenv.Eventually(d, ok) {
		t.Fatalf("timed out waiting for %s (stderr: %s)", what, log.String())
	}
}

// evict removes every member of a group with a LeaveGroup request naming
// them (v3+), as the broker does when a dead member's session times out.
func evict(t *testing.T, adm *kadm.Client, brokers []string, group string) {
	t.Helper()
	ctx := context.Background()
	described, err := adm.DescribeGroups(ctx, group)
	if err != nil {
		t.Fatal(err)
	}
	req := kmsg.NewPtrLeaveGroupRequest()
	req.Group = group
	for _, m := range described[group].Members {
		lm := kmsg.NewLeaveGroupRequestMember()
		lm.MemberID = m.MemberID
		req.Members = append(req.Members, lm)
	}
	if len(req.Members) == 0 {
		return
	}
	resp, err := req.RequestWith(ctx, mustClient(t, brokers))
	if err != nil {
		t.Fatal(err)
	}
	if e := kerr.ErrorForCode(resp.ErrorCode); e != nil {
		t.Fatalf("leave group: %v", e)
	}
}

const handler = `p=$(cat); echo "$DEIMOS_OFFSET $DEIMOS_RETRY_COUNT" >> runs.log
case "$p" in *fail*) [ -e heal ] || { echo "cannot handle $DEIMOS_KEY" >&2; exit 1; };; *skip*) exit 99;; esac
echo '{"entity_id":"'$DEIMOS_KEY'","event_type":"seen"}'`

func TestCheckpointAndEventsAPIThroughBinary(t *testing.T) {
	servers(t, testCheckpointAndEventsAPIThroughBinary)
}

func testCheckpointAndEventsAPIThroughBinary(t *testing.T, dl testenv.Dialect) {
	brokers, url, d := setup(t, dl, "orders")
	dir := t.TempDir()
	if _, err := migrate.Up(context.Background(), d, []string{"checkpoint"}); err != nil {
		t.Fatal(err)
	}
	produce(t, brokers, "orders",
		"o1", `{"n":1,"at":"2024-01-02T03:04:05.678Z"}`, "o2", `{"n":2,"skip":true}`, "o3", `{"n":3,"fail":true}`, "o4", `{"n":1,"at":"2024-01-02T03:04:05.678Z"}`)
	b := strings.Join(brokers, ",")
	args := []string{"-b", b, "--db", url, "consume", "-t", "orders", "-g", "billing", "-e", "--exec", handler, "--checkpoint", "--max-retries", "1", "--event-time-field", "at"}
	if r := run(t, dir, args...); r.code != 0 || !strings.Contains(r.err, "cannot handle o3") {
		t.Fatalf("consume: %d %s", r.code, r.err)
	}
	// o1 acked; o2 skipped; o3 ran twice and became a failure; o4 deduped (same payload).
	runs, _ := os.ReadFile(filepath.Join(dir, "runs.log"))
	if string(runs) != "0 0\n1 0\n2 0\n2 1\n" {
		t.Fatalf("runs = %q", runs)
	}
	if got := dump(t, d, "SELECT topic, group_id, entity_id, event_type, checksum FROM phobos_db_checkpoint_events"); len(got) != 1 || !strings.HasPrefix(got[0], "orders|billing|o1|seen|") {
		t.Fatalf("events = %v", got)
	}
	r := run(t, dir, "--db", url, "events", "list", "--failures", "-o", "json")
	var fs []map[string]any
	if err := json.Unmarshal([]byte(r.out), &fs); err != nil || len(fs) != 1 {
		t.Fatalf("events list --failures: %v %s %s", err, r.out, r.err)
	}
	fid := int64(fs[0]["id"].(float64))
	if fs[0]["error_message"] != "handler exited with status 1: cannot handle o3" || fs[0]["error_class"] != "Deimos::HandlerExitError" {
		t.Fatalf("failure = %v", fs[0])
	}
	r = run(t, dir, "--db", url, "events", "list")
	if r.code != 0 || !strings.Contains(r.out, "2024-01-02T03:04:05.678Z") || !strings.Contains(r.out, "o1") {
		t.Fatalf("events list: %d %s %s", r.code, r.out, r.err)
	}
	if r = run(t, dir, "--db", url, "events", "show", "abc"); r.code != 2 {
		t.Fatalf("show abc: %d", r.code)
	}
	if r = run(t, dir, "--db", url, "events", "show", "999"); r.code != 1 || !strings.Contains(r.err, "event 999 not found") {
		t.Fatalf("show 999: %d %s", r.code, r.err)
	}
	// events serve: the real binary, with a token, retrying through its --exec.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	srv := exec.Command(binary(t), "--db", url, "events", "serve", "--addr", addr, "--exec", handler)
	srv.Dir = dir
	srv.Env = append(os.Environ(), "DEIMOS_EVENTS_TOKEN=tok123", "DEIMOS_CONFIG=")
	var srvErr bytes.Buffer
	srv.Stderr = &srvErr
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = srv.Process.Signal(syscall.SIGTERM); _ = srv.Wait() }()
	call := func(method, path, token string) (int, string) {
		var resp *http.Response
		var err error
		// the server may not listen yet: retry until it answers
		if !testenv.Eventually(5*time.Second, func() bool {
			req, _ := http.NewRequest(method, "http://"+addr+path, nil)
			if token != "" {
				req.Header.Set("Authorization", "Bearer "+token)
			}
			resp, err = http.DefaultClient.Do(req)
			return err == nil
		}) {
			t.Fatalf("%s %s: %v (%s)", method, path, err, srvErr.String())
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode, string(body)
	}
	if code, body := call("GET", "/ping", ""); code != 200 || body != "PONG" {
		t.Fatalf("ping: %d %s", code, body)
	}
	if code, body := call("GET", "/v1/failures/count", ""); code != 401 || body != `{"error":true,"message":"unauthorized"}` {
		t.Fatalf("no token: %d %s", code, body)
	}
	if code, body := call("GET", "/v1/failures/count", "tok123"); code != 200 || body != `{"count":1}` {
		t.Fatalf("count: %d %s", code, body)
	}
	if code, body := call("POST", fmt.Sprintf("/v1/failures/%d/retry", fid), "tok123"); code != 422 || body != `{"error":true,"message":"handler exited with status 1: cannot handle o3"}` {
		t.Fatalf("retry while failing: %d %s", code, body)
	}
	_ = os.WriteFile(filepath.Join(dir, "heal"), nil, 0o644)
	if code, body := call("POST", fmt.Sprintf("/v1/failures/%d/retry", fid), "tok123"); code != 200 || body != `{"acknowledged":true}` {
		t.Fatalf("retry: %d %s", code, body)
	}
	code, body := call("GET", "/v1/events?group_id=billing&limit=10", "tok123")
	var evs []map[string]any
	_ = json.Unmarshal([]byte(body), &evs)
	if code != 200 || len(evs) != 2 || evs[0]["entity_id"] != "o1" || evs[1]["entity_id"] != "o3" {
		// o1 has an event_time, o3 none: NULLS LAST.
		t.Fatalf("events: %d %s", code, body)
	}
	keys := []string{}
	for k := range evs[1] {
		keys = append(keys, k)
	}
	if len(keys) != 10 {
		t.Fatalf("event JSON keys = %v", keys)
	}
	if code, body := call("GET", "/v1/events/x1", "tok123"); code != 400 {
		t.Fatalf("bad id: %d %s", code, body)
	}
	if strings.Contains(srvErr.String(), "tok123") {
		t.Fatal("token logged")
	}
	if !strings.Contains(srvErr.String(), "status=422") {
		t.Fatalf("request log: %s", srvErr.String())
	}
	// Redelivery from a new offset start of the same group: nothing is re-run.
	_ = os.Remove(filepath.Join(dir, "runs.log"))
	if r := run(t, dir, append(args, "-o", "beginning")...); r.code != 0 {
		t.Fatalf("re-consume: %d %s", r.code, r.err)
	}
	if _, err := os.Stat(filepath.Join(dir, "runs.log")); err == nil {
		runs, _ := os.ReadFile(filepath.Join(dir, "runs.log"))
		t.Fatalf("committed group re-ran handlers: %q", runs)
	}
}

// Column names are SQL that deimos did not write: a table sink into columns
// named it's and why? must bind its values, on every database (quoted with
// double quotes, or backticks on MySQL). The placeholder rebinding reads
// quoted identifiers (pkg/sqlguard): a ' inside one used to stop the
// rebinding and a ? inside one became a placeholder.
func TestTableSinkQuotedColumnNamesThroughBinary(t *testing.T) {
	dialects(t, testTableSinkQuotedColumnNamesThroughBinary)
}

func testTableSinkQuotedColumnNamesThroughBinary(t *testing.T, dl testenv.Dialect) {
	brokers, url, d := setup(t, dl, "odd")
	create(t, d, `CREATE TABLE odd (id bigint PRIMARY KEY, `+d.Q("it's")+` text, `+d.Q("why?")+` text, n int)`)
	produce(t, brokers, "odd", "1", `{"id":1,"it's":"a","why?":"b","n":7}`, "2", `{"id":2,"it's":"c","why?":"d","n":8}`)
	r := run(t, t.TempDir(), "-b", strings.Join(brokers, ","), "--db", url, "consume", "-t", "odd", "-g", "odd", "-e", "--sink", "table:odd")
	if r.code != 0 {
		t.Fatalf("consume: %d %s", r.code, r.err)
	}
	if got := dump(t, d, `SELECT id, `+d.Q("it's")+`, `+d.Q("why?")+`, n FROM odd ORDER BY id`); !reflect.DeepEqual(got, []string{"1|a|b|7", "2|c|d|8"}) {
		t.Fatalf("table = %v", got)
	}
}
