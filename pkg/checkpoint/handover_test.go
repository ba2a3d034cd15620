package checkpoint

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/deimos-cli/deimos/pkg/consume"
)

// Values that cannot be environment variables (a NUL byte, 200 KiB) are
// left out of the environment, named in DEIMOS_OMITTED, and given in full
// in the metadata file; the handler starts.
func TestExecHandsOverAnyMetadata(t *testing.T) {
	dir := t.TempDir()
	bigKey := strings.Repeat("k", 200<<10)
	m := Message{Topic: "t", Offset: 1, Key: []byte(bigKey), Payload: []byte("p"),
		Headers: []consume.Header{{Key: "nul", Value: []byte("a\x00b")}, {Key: "bin", Value: []byte{0xff, 0x00}}, {Key: "ok", Value: []byte("fine")}}}
	e := &Exec{Command: `echo "$DEIMOS_OMITTED|$DEIMOS_HEADER_OK|${DEIMOS_KEY-unset}" > ` + dir + `/env; cp "$DEIMOS_METADATA" ` + dir + `/meta`}
	if res, err := e.Run(context.Background(), m); err != nil || !res.Acked {
		t.Fatalf("run: %+v %v", res, err)
	}
	if env, _ := os.ReadFile(filepath.Join(dir, "env")); string(env) != "DEIMOS_KEY,DEIMOS_HEADER_NUL,DEIMOS_HEADER_BIN|fine|unset\n" {
		t.Fatalf("env: %q", env)
	}
	var md HandlerMetadata
	b, _ := os.ReadFile(filepath.Join(dir, "meta"))
	if err := json.Unmarshal(b, &md); err != nil {
		t.Fatal(err)
	}
	if md.Key == nil || *md.Key != bigKey || len(md.Headers) != 3 || *md.Headers[0].Value != "a\x00b" || md.Headers[1].Value != nil || *md.Headers[1].ValueBase64 != "/wA=" {
		t.Fatalf("metadata: key %d bytes, headers %+v", len(b), md.Headers)
	}
	matches, _ := filepath.Glob(filepath.Join(os.TempDir(), "deimos-message-*.json"))
	for _, f := range matches {
		if fb, _ := os.ReadFile(f); strings.Contains(string(fb), bigKey[:1000]) {
			t.Fatalf("metadata file %s left behind", f)
		}
	}
}

func TestBaseEnv(t *testing.T) {
	environ := []string{"PATH=/bin", "HOME=/h", "LC_ALL=C", "DEIMOS_DB=postgres://u:SECRET@h/db", "DEIMOS_SASL_PASSWORD=SECRET",
		"DEIMOS_EVENTS_TOKEN=SECRET", "AWS_SECRET_ACCESS_KEY=SECRET", "RAILS_ENV=production", "APP_A=1", "APP_B=2", "TZ=UTC"}
	got := strings.Join(BaseEnv(environ, nil), " ")
	if got != "PATH=/bin HOME=/h LC_ALL=C TZ=UTC" {
		t.Fatalf("default: %s", got)
	}
	got = strings.Join(BaseEnv(environ, []string{"RAILS_ENV", "APP_*", "DEIMOS_DB"}), " ")
	if got != "PATH=/bin HOME=/h LC_ALL=C DEIMOS_DB=postgres://u:SECRET@h/db RAILS_ENV=production APP_A=1 APP_B=2 TZ=UTC" {
		t.Fatalf("with pass: %s", got)
	}
	for _, bad := range []string{"", "A=B", "1X", "A*B", "*"} {
		if CheckPassEnv([]string{bad}) == nil {
			t.Errorf("--pass-env %q accepted", bad)
		}
	}
}

// A handler that cannot be started because of what it would be given is a
// failure of that message at once, even when retrying forever: recorded in
// the failures table, and the next message runs.
func TestHandoverFailureIsRecordedNotRetried(t *testing.T) {
	stores(t, func(t *testing.T, st *Store) {
		dir := t.TempDir()
		e := &Exec{Command: "cat >> " + dir + "/ran", PassEnv: []string{"BAD"}}
		h, err := NewHandler(Options{Group: "g", Store: st, Runner: runnerFunc(func(ctx context.Context, m Message) (Result, error) {
			if strings.Contains(string(m.Payload), "unhandable") {
				// EINVAL from exec, as a NUL in a variable gives.
				e.Environ = []string{"BAD=a\x00b"}
			} else {
				e.Environ = nil
			}
			return e.Run(ctx, m)
		}), Sleep: func(context.Context, time.Duration) error {
			t.Error("a handover failure was retried")
			return context.Canceled
		}})
		if err != nil {
			t.Fatal(err)
		}
		if err := h.Handle(context.Background(), recs(`{"m":"unhandable"}`, `{"m":"ok"}`)); err != nil {
			t.Fatal(err)
		}
		fs, _ := st.ListFailures(context.Background(), Filter{Limit: 5})
		if len(fs) != 1 || *fs[0].ErrorClass != "Deimos::HandlerStartError" || !strings.Contains(*fs[0].ErrorMessage, "NUL") {
			t.Fatalf("failures: %+v", fs)
		}
		if ran, _ := os.ReadFile(filepath.Join(dir, "ran")); string(ran) != `{"m":"ok"}` {
			t.Fatalf("next message: %q", ran)
		}
	})
}
