package checkpoint

import (
	"context"
	"crypto/md5"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/deimos-cli/deimos/internal/testenv"
	"github.com/deimos-cli/deimos/pkg/consume"
	"github.com/deimos-cli/deimos/pkg/db"
	"github.com/deimos-cli/deimos/pkg/envelope"
	"github.com/deimos-cli/deimos/pkg/migrate"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func TestChecksumMatchesPhobos(t *testing.T) {
	if got := Checksum(`{"data":"A"}`); got != "c1a837e058f7aa037afdf142c013af05" {
		t.Fatalf("Checksum = %s", got)
	}
	// ActiveSupport escapes <, > and & as \u003c… like Go's encoder: the
	// checksum is the MD5 of that literal.
	if got, want := Checksum("<&>"), fmt.Sprintf("%x", md5.Sum([]byte(`"\u003c\u0026\u003e"`))); got != want {
		t.Fatalf("Checksum(<&>) = %s, want %s", got, want)
	}
	if Checksum("a") == Checksum("b") {
		t.Fatal("checksum not a function of the payload")
	}
	b, _ := json.Marshal("<&>\u2028")
	if string(b) != `"\u003c\u0026\u003e\u2028"` {
		t.Fatalf("escaping = %s", b)
	}
}

// TestChecksumActiveSupportEscaping pins the checksum to MD5s of the JSON
// string literals ActiveSupport's to_json (Rails 4.1+, json gem generator)
// writes, typed out by hand here: <, >, & as lower-case \u003c \u003e \u0026,
// U+2028/9 escaped, \b \f \t \n short forms, other controls as \u00xx,
// "/" and non-ASCII raw. The sums were computed outside Go (python3 hashlib).
func TestChecksumActiveSupportEscaping(t *testing.T) {
	for _, c := range []struct{ payload, rubyLiteral, md5 string }{
		{`<a href="x">&</a>`, `"\u003ca href=\"x\"\u003e\u0026\u003c/a\u003e"`, "34ed142b9deb53eb1a2a5ea0628a336a"},
		{"tab\there\nline\\ \u2028\u2029 é / \x01\b\f\x1f", `"tab\there\nline\\ \u2028\u2029 é / \u0001\b\f\u001f"`, "fa1c442a5bcacd16fa8c3c7c50269af3"},
		{`{"data": "A"}`, `"{\"data\": \"A\"}"`, "278d5e30af5b91d4f1b4772c6525b558"},
	} {
		if b, _ := json.Marshal(c.payload); string(b) != c.rubyLiteral {
			t.Errorf("%q: literal %s, ActiveSupport writes %s", c.payload, b, c.rubyLiteral)
		}
		if got := Checksum(c.payload); got != c.md5 {
			t.Errorf("Checksum(%q) = %s, want %s", c.payload, got, c.md5)
		}
	}
	// Binary payloads: two values differing only in invalid UTF-8 bytes must
	// not share a checksum (json.Marshal would map both to U+FFFD).
	if a, b := Checksum("x\xff"), Checksum("x\xfe"); a == b {
		t.Fatalf("binary payloads share checksum %s", a)
	}
}

// TestPayloadOfUsesTheTopicBytes: the handler (and the checksum) see the
// message text as it is on the topic, not pkg/consume's JSON-string or base64
// wrapping of non-compact JSON, plain text and binary.
func TestPayloadOfUsesTheTopicBytes(t *testing.T) {
	for _, c := range []struct {
		name string
		r    consume.Record
		want string
	}{
		{"compact json", consume.Record{RawValue: []byte(`{"a":1}`), Value: json.RawMessage(`{"a":1}`), ValueEncoding: envelope.EncJSON}, `{"a":1}`},
		{"spaced json", consume.Record{RawValue: []byte(`{"a": 1}`), Value: json.RawMessage(`"{\"a\": 1}"`), ValueEncoding: envelope.EncString}, `{"a": 1}`},
		{"plain text", consume.Record{RawValue: []byte(`hello`), Value: json.RawMessage(`"hello"`), ValueEncoding: envelope.EncString}, `hello`},
		{"binary", consume.Record{RawValue: []byte{0, 0xff}, Value: json.RawMessage(`"AP8="`), ValueEncoding: envelope.EncBase64}, "\x00\xff"},
		{"decoded avro", consume.Record{RawValue: []byte{0, 0, 0, 0, 1, 2}, Value: json.RawMessage(`{"x":1}`), ValueEncoding: envelope.EncJSON}, `{"x":1}`},
		{"decode error", consume.Record{RawValue: []byte("\x00junk"), Value: json.RawMessage(`"AGp1bms="`), ValueEncoding: envelope.EncBase64, DecodeErr: errors.New("bad")}, "\x00junk"},
	} {
		m := MessageFor(c.r, "g")
		if string(m.Payload) != c.want {
			t.Errorf("%s: payload %q, want %q", c.name, m.Payload, c.want)
		}
		if m.Checksum != Checksum(c.want) {
			t.Errorf("%s: checksum of the wrapped form", c.name)
		}
	}
	if m := MessageFor(consume.Record{Topic: "t"}, "g"); m.Payload != nil || m.Checksum != "" {
		t.Errorf("tombstone: %+v", m)
	}
	if got := MessageFor(consume.Record{RawValue: []byte(`{"data": "A"}`), Value: json.RawMessage(`"{\"data\": \"A\"}"`), ValueEncoding: envelope.EncString}, "g").Checksum; got != "278d5e30af5b91d4f1b4772c6525b558" {
		t.Errorf("spaced JSON checksum = %s (Ruby: MD5 of the raw string's literal)", got)
	}
}

func TestPayloadRoundTrip(t *testing.T) {
	for _, in := range []string{`{"a":1}`, `plain text`, `"quoted"`, `[1,2]`} {
		col := PayloadJSON([]byte(in)).(string)
		if !json.Valid([]byte(col)) {
			t.Fatalf("%q -> invalid JSON %q", in, col)
		}
		if got := string(PayloadText(json.RawMessage(col))); got != in && !(in == `"quoted"` && got == "quoted") {
			t.Errorf("%q -> %q -> %q", in, col, got)
		}
	}
}

func stores(t *testing.T, f func(t *testing.T, st *Store)) {
	for _, dl := range testenv.Dialects(t) {
		t.Run(dl.Name, func(t *testing.T) {
			ctx := context.Background()
			d, err := db.Open(ctx, dl.URL(t))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { d.Close() })
			if _, err := migrate.Up(ctx, d, []string{"checkpoint"}); err != nil {
				t.Fatal(err)
			}
			st, err := NewStore(ctx, d)
			if err != nil {
				t.Fatal(err)
			}
			f(t, st)
		})
	}
}

// handlerScript acks payloads with "ok", skips "skip", fails "fail" unless
// the file $dir/heal exists, and logs each run.
func handlerScript(dir string) string {
	return fmt.Sprintf(`p=$(cat); echo "$DEIMOS_OFFSET $DEIMOS_RETRY_COUNT $DEIMOS_GROUP $DEIMOS_KEY" >> %[1]s/runs.log
case "$p" in
  *fail*) if [ ! -e %[1]s/heal ]; then echo "line one" >&2; echo "boom at $DEIMOS_OFFSET" >&2; exit 1; fi;;
  *skip*) exit 99;;
esac
echo '{"entity_id":"E'$DEIMOS_OFFSET'","event_type":"made"}'`, dir)
}

func recs(vals ...string) []consume.Record {
	var out []consume.Record
	for i, v := range vals {
		out = append(out, consume.Record{Topic: "t", Partition: 1, Offset: int64(i), Key: json.RawMessage(fmt.Sprintf(`"k%d"`, i)), Value: json.RawMessage(v), Timestamp: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)})
	}
	return out
}

func runs(t *testing.T, dir string) []string {
	b, _ := os.ReadFile(filepath.Join(dir, "runs.log"))
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

func TestHandlerDedupSkipFailure(t *testing.T) {
	stores(t, func(t *testing.T, st *Store) {
		dir := t.TempDir()
		max := 2
		var kinds []string
		h, err := NewHandler(Options{
			Group: "g1", Store: st, MaxRetries: &max,
			Runner:  &Exec{Command: handlerScript(dir)},
			Fields:  Fields{EventTime: "at", EventVersion: "v"},
			Sleep:   func(context.Context, time.Duration) error { return nil },
			OnEvent: func(k string, m Message, _ error) { kinds = append(kinds, fmt.Sprintf("%s@%d", k, m.Offset)) },
		})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		b := recs(`{"ok":1,"at":"2024-03-04T05:06:07.891Z","v":"3"}`, `{"skip":1}`, `{"fail":1}`, `{"ok":1,"at":"2024-03-04T05:06:07.891Z","v":"3"}`)
		if err := h.Handle(ctx, b); err != nil {
			t.Fatal(err)
		}
		want := "acknowledged@0 skipped@1 retry@2 retry@2 failure@2 already_consumed@3"
		if got := strings.Join(kinds, " "); got != want {
			t.Fatalf("events:\n got %s\nwant %s", got, want)
		}
		if r := runs(t, dir); len(r) != 5 || r[2] != "2 0 g1 k2" || r[4] != "2 2 g1 k2" {
			t.Fatalf("runs = %q", r)
		}
		evs, err := st.ListEvents(ctx, Filter{Limit: 20})
		if err != nil || len(evs) != 1 {
			t.Fatalf("events = %+v, %v", evs, err)
		}
		e := evs[0]
		if *e.EntityID != "E0" || *e.EventType != "made" || *e.EventVersion != "3" || e.EventTime.UTC().Format(TimeLayout) != "2024-03-04T05:06:07.891Z" ||
			*e.Checksum != Checksum(`{"ok":1,"at":"2024-03-04T05:06:07.891Z","v":"3"}`) || *e.Topic != "t" || *e.GroupID != "g1" || e.CreatedAt == nil {
			t.Fatalf("event = %+v", e)
		}
		fs, err := st.ListFailures(ctx, Filter{Limit: 20})
		if err != nil || len(fs) != 1 {
			t.Fatalf("failures = %+v, %v", fs, err)
		}
		f := fs[0]
		if *f.ErrorClass != "Deimos::HandlerExitError" || *f.ErrorMessage != "handler exited with status 1: boom at 2" ||
			string(f.ErrorBacktrace) != `["line one","boom at 2"]` || string(f.Payload) != `{"fail":1}` {
			t.Fatalf("failure = %+v", f)
		}
		var md map[string]any
		_ = json.Unmarshal(f.Metadata, &md)
		if md["retry_count"] != float64(2) || md["key"] != "k2" || md["group_id"] != "g1" || md["offset"] != float64(2) {
			t.Fatalf("metadata = %s", f.Metadata)
		}
		// Redelivery: the acked one dedups, the failure is not stored twice.
		kinds = nil
		if err := h.Handle(ctx, b); err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(kinds, " "); got != "already_consumed@0 skipped@1 retry@2 retry@2 failure_exists@2 already_consumed@3" {
			t.Fatalf("redelivery events: %s", got)
		}
		if n, _ := st.CountFailures(ctx); n != 1 {
			t.Fatalf("failures after redelivery = %d", n)
		}
		// Another group does not dedup against g1.
		if ok, _ := st.EventExists(ctx, "t", "g2", *e.Checksum); ok {
			t.Fatal("dedup crossed groups")
		}
	})
}

func TestRetryForeverUntilStopped(t *testing.T) {
	n := 0
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	h, _ := NewHandler(Options{Group: "g", Runner: &Exec{Command: "exit 1"}, Sleep: func(ctx context.Context, d time.Duration) error {
		n++
		if n == 4 {
			cancel()
			return ctx.Err()
		}
		return nil
	}})
	err := h.Handle(ctx, recs(`{"a":1}`))
	if !errors.Is(err, context.Canceled) || n != 4 {
		t.Fatalf("err = %v after %d retries", err, n)
	}
	if DefaultBackoff(0) != time.Second || DefaultBackoff(3) != 8*time.Second || DefaultBackoff(20) != time.Minute {
		t.Fatal("DefaultBackoff")
	}
	if _, err := NewHandler(Options{Runner: &Exec{Command: "true"}, Store: &Store{}}); err == nil {
		t.Fatal("--checkpoint without a group accepted")
	}
}

func TestExecEnvAndAck(t *testing.T) {
	dir := t.TempDir()
	e := &Exec{Command: `env | grep ^DEIMOS_ | grep -v ^DEIMOS_METADATA= | sort > ` + dir + `/env; cp "$DEIMOS_METADATA" ` + dir + `/meta; cat > ` + dir + `/in; echo noise; echo '{"entity_id": 42, "event_time": 1700000000}'`}
	m := Message{Topic: "t", Partition: 2, Offset: 9, Key: []byte(`{"id":1}`), Payload: []byte(`{"x":1}`), Group: "g", RetryCount: 1, Checksum: "abc",
		Headers: []consume.Header{{Key: "trace-id", Value: []byte("T1")}}, Timestamp: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)}
	res, err := e.Run(context.Background(), m)
	if err != nil || !res.Acked || res.Ack == nil || *res.Ack.EntityID != "42" || res.Ack.EventTime.Unix() != 1700000000 {
		t.Fatalf("res = %+v, %v", res, err)
	}
	env, _ := os.ReadFile(dir + "/env")
	want := "DEIMOS_CHECKSUM=abc\nDEIMOS_GROUP=g\nDEIMOS_HEADER_TRACE_ID=T1\nDEIMOS_KEY={\"id\":1}\nDEIMOS_OFFSET=9\nDEIMOS_PARTITION=2\nDEIMOS_RETRY_COUNT=1\nDEIMOS_TIMESTAMP=2024-01-01T00:00:00Z\nDEIMOS_TOPIC=t\n"
	if string(env) != want {
		t.Fatalf("env:\n%s\nwant\n%s", env, want)
	}
	wantMeta := `{"topic":"t","partition":2,"offset":9,"timestamp":"2024-01-01T00:00:00Z","group":"g","retry_count":1,"checksum":"abc","tombstone":false,"key":"{\"id\":1}","headers":[{"key":"trace-id","value":"T1"}]}`
	if meta, _ := os.ReadFile(dir + "/meta"); string(meta) != wantMeta {
		t.Fatalf("metadata file:\n%s\nwant\n%s", meta, wantMeta)
	}
	if in, _ := os.ReadFile(dir + "/in"); string(in) != `{"x":1}` {
		t.Fatalf("stdin = %q", in)
	}
	res, err = (&Exec{Command: "exit 7", SkipExitCode: 7}).Run(context.Background(), m)
	if err != nil || res.Acked {
		t.Fatalf("skip: %+v %v", res, err)
	}
}

func get(t *testing.T, srv *httptest.Server, method, path, token string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, srv.URL+path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestAPI(t *testing.T) {
	stores(t, func(t *testing.T, st *Store) {
		ctx := context.Background()
		clock := time.Date(2024, 2, 3, 4, 5, 6, 789_000_000, time.UTC)
		st.SetNow(func() time.Time { return clock })
		t1 := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
		t2 := t1.Add(time.Hour)
		s := func(v string) *string { return &v }
		_, _ = st.InsertEvent(ctx, "t", "g", Checksum("a"), []byte(`{"n":1}`), Ack{EntityID: s("e1"), EventTime: &t1, EventType: s("x")})
		_, _ = st.InsertEvent(ctx, "t", "g", Checksum("b"), []byte(`plain`), Ack{})
		id3, _ := st.InsertEvent(ctx, "u", "g", Checksum("c"), []byte(`{"n":3}`), Ack{EntityID: s("e3"), EventTime: &t2, EventVersion: s("2")})
		dir := t.TempDir()
		for i, p := range []string{`{"fail":1}`, `{"fail":2}`} {
			_, err := st.RecordFailure(ctx, NewFailure{Topic: "t", GroupID: "g", Checksum: Checksum(p), Payload: []byte(p),
				Metadata: Metadata(Message{Topic: "t", Group: "g", Offset: int64(i), Key: []byte(`"k"`), RetryCount: 3}), ErrorClass: "E", ErrorMessage: "boom", Backtrace: []string{"l1"}})
			if err != nil {
				t.Fatal(err)
			}
		}
		srv := httptest.NewServer(NewAPI(APIOptions{Store: st, Runner: &Exec{Command: handlerScript(dir)}}))
		defer srv.Close()

		code, body := get(t, srv, "GET", "/ping", "")
		if code != 200 || body != "PONG" {
			t.Fatalf("ping: %d %s", code, body)
		}
		code, body = get(t, srv, "GET", "/v1/events", "")
		var evs []map[string]any
		_ = json.Unmarshal([]byte(body), &evs)
		// event_time DESC NULLS LAST: e3 (t2), e1 (t1), then the one without event_time.
		if code != 200 || len(evs) != 3 || evs[0]["entity_id"] != "e3" || evs[1]["entity_id"] != "e1" || evs[2]["event_time"] != nil {
			t.Fatalf("list: %d %s", code, body)
		}
		code, body = get(t, srv, "GET", fmt.Sprintf("/v1/events/%d", id3), "")
		want := fmt.Sprintf(`{"id":%d,"topic":"u","group_id":"g","entity_id":"e3","event_time":"2020-01-01T01:00:00.000Z","event_type":null,"event_version":"2","checksum":"%s","payload":{"n":3},"created_at":"2024-02-03T04:05:06.789Z"}`, id3, Checksum("c"))
		if code != 200 || body != want {
			t.Fatalf("show:\n got %d %s\nwant %s", code, body, want)
		}
		if code, body = get(t, srv, "GET", "/v1/events?topic=t&limit=1&offset=1", ""); code != 200 || !strings.Contains(body, `"payload":"plain"`) || strings.Count(body, `"id"`) != 1 {
			t.Fatalf("filter/limit/offset: %d %s", code, body)
		}
		for path, wantBody := range map[string]string{
			"/v1/events/999999": `{"error":true,"message":"event not found"}`,
			"/v1/failures/9999": `{"error":true,"message":"failure not found"}`,
			"/nope":             `{"error":true,"message":"not found"}`,
		} {
			if code, body := get(t, srv, "GET", path, ""); code != 404 || body != wantBody {
				t.Errorf("%s: %d %s", path, code, body)
			}
		}
		for _, path := range []string{"/v1/events/abc", "/v1/events?limit=x", "/v1/failures?offset=-1"} {
			if code, body := get(t, srv, "GET", path, ""); code != 400 || !strings.HasPrefix(body, `{"error":true,"message":`) {
				t.Errorf("%s: %d %s", path, code, body)
			}
		}
		if code, body = get(t, srv, "GET", "/v1/failures/count", ""); code != 200 || body != `{"count":2}` {
			t.Fatalf("count: %d %s", code, body)
		}
		code, body = get(t, srv, "GET", "/v1/failures", "")
		var fs []Failure
		_ = json.Unmarshal([]byte(body), &fs)
		if code != 200 || len(fs) != 2 || !strings.HasPrefix(body, `[{"id":`) || !strings.Contains(body, `"error_backtrace":["l1"]`) || !strings.Contains(body, `"created_at":"2024-02-03T04:05:06.789Z"`) {
			t.Fatalf("failures: %d %s", code, body)
		}
		// One failure, field by field in the Ruby API's column order; json
		// columns embedded as JSON, times with milliseconds and Z.
		code, body = get(t, srv, "GET", fmt.Sprintf("/v1/failures/%d", fs[0].ID), "")
		dec := json.NewDecoder(strings.NewReader(body))
		var keys []string
		if tok, _ := dec.Token(); tok != json.Delim('{') {
			t.Fatalf("failure show: %d %s", code, body)
		}
		for dec.More() {
			k, _ := dec.Token()
			keys = append(keys, k.(string))
			var v json.RawMessage
			_ = dec.Decode(&v)
		}
		if want := "id created_at topic group_id entity_id event_time event_type event_version checksum payload metadata error_class error_message error_backtrace"; strings.Join(keys, " ") != want {
			t.Fatalf("failure keys = %v, want %s", keys, want)
		}
		var one map[string]any
		_ = json.Unmarshal([]byte(body), &one)
		if md, ok := one["metadata"].(map[string]any); !ok || md["retry_count"] != float64(3) || md["key"] != "k" || md["topic"] != "t" {
			t.Fatalf("metadata not embedded JSON: %s", body)
		}
		if p, ok := one["payload"].(map[string]any); !ok || p["fail"] == nil || one["created_at"] != "2024-02-03T04:05:06.789Z" || one["error_class"] != "E" || one["error_message"] != "boom" {
			t.Fatalf("failure show: %s", body)
		}
		// count ignores filters, as the Ruby route does.
		if code, body = get(t, srv, "GET", "/v1/failures/count?topic=nope&group_id=x", ""); code != 200 || body != `{"count":2}` {
			t.Fatalf("filtered count: %d %s", code, body)
		}
		// Retry with the handler still failing: 422, failure kept.
		code, body = get(t, srv, "POST", fmt.Sprintf("/v1/failures/%d/retry", fs[0].ID), "")
		if code != 422 || !strings.HasPrefix(body, `{"error":true,"message":"handler exited with status 1: boom at`) {
			t.Fatalf("retry failing: %d %s", code, body)
		}
		// Healed: acknowledged, failure deleted, event stored; retry_count 0.
		_ = os.WriteFile(filepath.Join(dir, "heal"), nil, 0o644)
		code, body = get(t, srv, "POST", fmt.Sprintf("/v1/failures/%d/retry", fs[0].ID), "")
		if code != 200 || body != `{"acknowledged":true}` {
			t.Fatalf("retry: %d %s", code, body)
		}
		if r := runs(t, dir); !strings.HasSuffix(r[len(r)-1], " 0 g k") {
			t.Fatalf("retry run = %q", r)
		}
		if ok, _ := st.EventExists(ctx, "t", "g", *fs[0].Checksum); !ok {
			t.Fatal("retry stored no event (or a different checksum)")
		}
		if code, body = get(t, srv, "DELETE", fmt.Sprintf("/v1/failures/%d", fs[1].ID), ""); code != 200 || body != `{"acknowledged":true}` {
			t.Fatalf("delete: %d %s", code, body)
		}
		if code, body = get(t, srv, "GET", "/v1/failures/count", ""); body != `{"count":0}` {
			t.Fatalf("count after: %d %s", code, body)
		}

		// Any other error: 500 {"error":true,"message":…}.
		if _, err := st.d.Exec("ALTER TABLE " + EventsTable + " RENAME TO events_gone"); err != nil {
			t.Fatal(err)
		}
		code, body = get(t, srv, "GET", "/v1/events", "")
		if code != 500 || !strings.HasPrefix(body, `{"error":true,"message":"`) {
			t.Fatalf("broken table: %d %s", code, body)
		}
		if _, err := st.d.Exec("ALTER TABLE events_gone RENAME TO " + EventsTable); err != nil {
			t.Fatal(err)
		}

		// Token.
		tsrv := httptest.NewServer(NewAPI(APIOptions{Store: st, Token: "s3cret"}))
		defer tsrv.Close()
		if code, body := get(t, tsrv, "GET", "/v1/events", ""); code != 401 || body != `{"error":true,"message":"unauthorized"}` {
			t.Fatalf("no token: %d %s", code, body)
		}
		if code, _ := get(t, tsrv, "GET", "/v1/events", "wrong"); code != 401 {
			t.Fatalf("wrong token: %d", code)
		}
		if code, _ := get(t, tsrv, "GET", "/v1/events", "s3cret"); code != 200 {
			t.Fatalf("token: %d", code)
		}
	})
}

// secretRunner fails with an error text that carries a secret, as a
// handler's stderr or a driver error might.
type secretRunner struct{ secret string }

func (s secretRunner) Run(context.Context, Message) (Result, error) {
	return Result{}, fmt.Errorf("cannot reach postgres://app:%s@db/app", s.secret)
}

// Error texts the API sends to clients pass through APIOptions.Redact, so a
// secret inside one (here a database password in a handler error) is never
// sent over HTTP; events serve passes the factory's redactor.
func TestAPIRedactsErrorTexts(t *testing.T) {
	const secret = "pw-9c1f-never-shown"
	stores(t, func(t *testing.T, st *Store) {
		ctx := context.Background()
		if _, err := st.RecordFailure(ctx, NewFailure{Topic: "t", GroupID: "g", Checksum: Checksum("p"), Payload: []byte(`{}`),
			Metadata: Metadata(Message{Topic: "t", Group: "g"}), ErrorClass: "E", ErrorMessage: "boom"}); err != nil {
			t.Fatal(err)
		}
		fs, err := st.ListFailures(ctx, Filter{Limit: 1})
		if err != nil || len(fs) != 1 {
			t.Fatalf("failures: %v %v", fs, err)
		}
		id := fs[0].ID
		for _, redact := range []bool{false, true} {
			o := APIOptions{Store: st, Runner: secretRunner{secret}}
			if redact {
				o.Redact = func(s string) string { return strings.ReplaceAll(s, secret, "xxxxx") }
			}
			srv := httptest.NewServer(NewAPI(o))
			code, body := get(t, srv, "POST", fmt.Sprintf("/v1/failures/%d/retry", id), "")
			srv.Close()
			if code < 400 || !strings.Contains(body, "postgres://app:") {
				t.Fatalf("retry with a failing runner: %d %s", code, body)
			}
			if leaked := strings.Contains(body, secret); leaked == redact {
				t.Fatalf("redact=%v: secret in response = %v: %s", redact, leaked, body)
			}
		}
	})
}
