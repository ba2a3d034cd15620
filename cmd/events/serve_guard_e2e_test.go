package events_test

// events serve against web pages, tokens from the environment or a file, and
// concurrent retries of one failure, through the real binary.

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/deimos-cli/deimos/internal/testenv"
	"github.com/deimos-cli/deimos/pkg/checkpoint"
	"github.com/deimos-cli/deimos/pkg/db"
	"github.com/deimos-cli/deimos/pkg/migrate"
)

// failureDB opens url, creates the checkpoint tables and stores one failure;
// it returns the database and the failure's id.
func failureDB(t *testing.T, url string) (*db.DB, int64) {
	t.Helper()
	ctx := context.Background()
	d, err := db.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	if _, err := migrate.Up(ctx, d, []string{"checkpoint"}); err != nil {
		t.Fatal(err)
	}
	st, err := checkpoint.NewStore(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.RecordFailure(ctx, checkpoint.NewFailure{Topic: "orders", GroupID: "billing", Checksum: checkpoint.Checksum(`{"n":1}`),
		Payload: []byte(`{"n":1}`), Metadata: map[string]any{"topic": "orders", "partition": 0, "offset": 7, "key": "o1"},
		ErrorClass: "Deimos::HandlerExitError", ErrorMessage: "boom"}); err != nil {
		t.Fatal(err)
	}
	var id int64
	if err := d.QueryRow("SELECT id FROM phobos_db_checkpoint_failures").Scan(&id); err != nil {
		t.Fatal(err)
	}
	return d, id
}

var listenRE = regexp.MustCompile(`events API listening on http://(\S+)`)

// serve starts `events serve` and returns its address once it listens.
func serve(t *testing.T, dir string, env []string, args ...string) (string, *testenv.SyncBuffer) {
	t.Helper()
	cmd := exec.Command(binary(t), append([]string{"events", "serve"}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), "DEIMOS_CONFIG=", "DEIMOS_EVENTS_TOKEN="), env...)
	errb := &testenv.SyncBuffer{}
	cmd.Stderr = errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() { _ = cmd.Process.Signal(syscall.SIGTERM); <-exited })
	var addr string
	testenv.WaitFor(t, 30*time.Second, "events serve to say where it listens", func() bool {
		select {
		case <-exited:
			t.Fatalf("events serve exited: %s", errb.String())
		default:
		}
		if m := listenRE.FindStringSubmatch(errb.String()); m != nil {
			addr = m[1]
		}
		return addr != ""
	})
	return addr, errb
}

// request sends one request to addr; host overrides the Host header.
func request(t *testing.T, method, addr, host, path string, hdr map[string]string, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+addr+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if host != "" {
		req.Host = host
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

const markHandler = `echo ran >> ran.log; echo '{"entity_id":"o1"}'`

// Without a token the API still obeys only this server's own clients: a
// page's cross-origin POST (the "simple" kind browsers send without asking),
// a form POST, a cross-site DELETE and a DNS-rebinding read are refused and
// the handler never runs; curl and a same-origin JSON POST still work.
func TestEventsServeRefusesWebPages(t *testing.T) {
	dir := t.TempDir()
	url := testenv.SQLiteURL(t)
	d, id := failureDB(t, url)
	addr, _ := serve(t, dir, nil, "--db", url, "--addr", "127.0.0.1:0", "--exec", markHandler)
	retry := fmt.Sprintf("/v1/failures/%d/retry", id)
	_, port, _ := strings.Cut(addr, ":")
	refused := []struct {
		name, method, host, path string
		hdr                      map[string]string
		want                     int
	}{
		{"cross-origin simple POST", "POST", "", retry, map[string]string{"Origin": "http://evil.example", "Content-Type": "text/plain"}, 403},
		{"cross-origin POST without body", "POST", "", retry, map[string]string{"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"}, 403},
		{"form POST (no Origin)", "POST", "", retry, map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, 415},
		{"cross-site DELETE", "DELETE", "", fmt.Sprintf("/v1/failures/%d", id), map[string]string{"Sec-Fetch-Site": "cross-site"}, 403},
		{"DNS rebinding read", "GET", "rebind.evil.example:" + port, fmt.Sprintf("/v1/failures/%d", id), nil, 403},
		{"DNS rebinding retry", "POST", "rebind.evil.example:" + port, retry, map[string]string{"Origin": "http://rebind.evil.example:" + port}, 403},
	}
	for _, c := range refused {
		code, body := request(t, c.method, addr, c.host, c.path, c.hdr, "x")
		if code != c.want || !strings.Contains(body, `"error":true`) || strings.Contains(body, `"n":1`) {
			t.Errorf("%s: %d %s, want %d", c.name, code, body, c.want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "ran.log")); err == nil {
		t.Fatal("a refused request ran the handler")
	}
	if got := dump(t, d, "SELECT COUNT(*) FROM phobos_db_checkpoint_failures"); got[0] != "1" {
		t.Fatalf("failures after refused requests: %v", got)
	}
	// Loopback names and curl-style clients are served.
	if code, body := request(t, "GET", addr, "localhost:"+port, fmt.Sprintf("/v1/failures/%d", id), nil, ""); code != 200 || !strings.Contains(body, `"error_message":"boom"`) {
		t.Fatalf("GET via localhost: %d %s", code, body)
	}
	if code, body := request(t, "POST", addr, "", retry, map[string]string{"Origin": "http://" + addr, "Sec-Fetch-Site": "same-origin", "Content-Type": "application/json"}, "{}"); code != 200 || body != `{"acknowledged":true}` {
		t.Fatalf("same-origin JSON retry: %d %s", code, body)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "ran.log")); string(b) != "ran\n" {
		t.Fatalf("handler runs: %q", b)
	}
}

// A token can come from the environment or a file (not only argv, which ps
// shows); "Bearer" is accepted in any letter case; a non-loopback address
// without a token is refused at start.
func TestEventsServeTokenSources(t *testing.T) {
	dir := t.TempDir()
	url := testenv.SQLiteURL(t)
	failureDB(t, url)
	r := run(t, dir, "--db", url, "events", "serve", "--addr", "0.0.0.0:0")
	if r.code != 2 || !strings.Contains(r.err, "not a loopback address") || !strings.Contains(r.err, "token") {
		t.Fatalf("non-loopback without token: %d %s", r.code, r.err)
	}
	tokFile := filepath.Join(dir, "tok")
	if err := os.WriteFile(tokFile, []byte("file-s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		env   []string
		args  []string
		token string
	}{
		{"--token-file on a wildcard address", nil, []string{"--addr", "0.0.0.0:0", "--token-file", tokFile}, "file-s3cret"},
		{"DEIMOS_EVENTS_TOKEN", []string{"DEIMOS_EVENTS_TOKEN=env-s3cret"}, []string{"--addr", "127.0.0.1:0"}, "env-s3cret"},
	} {
		addr, errb := serve(t, dir, c.env, append([]string{"--db", url}, c.args...)...)
		addr = strings.Replace(addr, "0.0.0.0", "127.0.0.1", 1)
		addr = strings.Replace(addr, "[::]", "127.0.0.1", 1)
		if code, _ := request(t, "GET", addr, "", "/v1/failures/count", nil, ""); code != 401 {
			t.Errorf("%s: no token: %d", c.name, code)
		}
		if code, _ := request(t, "GET", addr, "", "/v1/failures/count", map[string]string{"Authorization": "Bearer wrong"}, ""); code != 401 {
			t.Errorf("%s: wrong token: %d", c.name, code)
		}
		for _, scheme := range []string{"Bearer", "bearer", "BEARER", "bEaReR"} {
			if code, body := request(t, "GET", addr, "", "/v1/failures/count", map[string]string{"Authorization": scheme + " " + c.token}, ""); code != 200 || body != `{"count":1}` {
				t.Errorf("%s: %s token: %d %s", c.name, scheme, code, body)
			}
		}
		if strings.Contains(errb.String(), c.token) {
			t.Errorf("%s: token logged: %s", c.name, errb.String())
		}
	}
	r = run(t, dir, "--db", url, "events", "serve", "--token-file", filepath.Join(dir, "missing"))
	if r.code != 2 || !strings.Contains(r.err, "--token-file") {
		t.Fatalf("missing token file: %d %s", r.code, r.err)
	}
}

// Several retries of the same failure at once, through the API and as
// separate `events retry` processes: the handler runs once, one event is
// stored, the others are told the failure is being retried (409 / exit 1).
func TestConcurrentRetriesRunOnce(t *testing.T) {
	for _, dl := range testenv.Dialects(t) {
		t.Run(dl.Name, func(t *testing.T) {
			url := dl.URL(t)
			dir := t.TempDir()
			d, id := failureDB(t, url)
			// The handler records its run, then waits until the test lets it finish.
			handler := `echo ran >> runs.log; while [ ! -e go ]; do sleep 0.02; done; echo '{"entity_id":"o1"}'`
			addr, srvErr := serve(t, dir, nil, "--db", url, "--addr", "127.0.0.1:0", "--exec", handler)
			const apiN, cliN = 5, 2
			type outcome struct {
				code int
				body string
			}
			var mu sync.Mutex
			var outs []outcome
			var wg sync.WaitGroup
			for i := 0; i < apiN; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					code, body := request(t, "POST", addr, "", fmt.Sprintf("/v1/failures/%d/retry", id), nil, "")
					mu.Lock()
					outs = append(outs, outcome{code, body})
					mu.Unlock()
				}()
			}
			for i := 0; i < cliN; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					r := run(t, dir, "--db", url, "events", "retry", fmt.Sprint(id), "--exec", handler)
					code := 200
					if r.code != 0 {
						code = 1000 + r.code
					}
					mu.Lock()
					outs = append(outs, outcome{code, r.out + r.err})
					mu.Unlock()
				}()
			}
			// Wait until every retry has either started the handler or answered.
			settled := testenv.Eventually(60*time.Second, func() bool {
				b, _ := os.ReadFile(filepath.Join(dir, "runs.log"))
				mu.Lock()
				defer mu.Unlock()
				return strings.Count(string(b), "ran")+len(outs) >= apiN+cliN
			})
			if !settled {
				b, _ := os.ReadFile(filepath.Join(dir, "runs.log"))
				mu.Lock()
				answers := fmt.Sprint(outs)
				mu.Unlock()
				t.Fatalf("retries did not settle: runs %q, answers %s, server: %s", b, answers, srvErr.String())
			}
			if err := os.WriteFile(filepath.Join(dir, "go"), nil, 0o644); err != nil {
				t.Fatal(err)
			}
			wg.Wait()
			b, _ := os.ReadFile(filepath.Join(dir, "runs.log"))
			if string(b) != "ran\n" {
				t.Fatalf("handler ran %d times, want once (answers %v)", strings.Count(string(b), "ran"), outs)
			}
			ok, busy := 0, 0
			for _, o := range outs {
				switch {
				case o.code == 200:
					ok++
				case (o.code == 409 || o.code == 1001) && strings.Contains(o.body, "already being retried"):
					busy++
				default:
					t.Errorf("unexpected answer %d %s", o.code, o.body)
				}
			}
			if ok != 1 || busy != apiN+cliN-1 {
				t.Fatalf("%d succeeded and %d were told it is being retried: %v", ok, busy, outs)
			}
			if got := dump(t, d, "SELECT entity_id FROM phobos_db_checkpoint_events"); len(got) != 1 || got[0] != "o1" {
				t.Fatalf("events = %v, want one", got)
			}
			if got := dump(t, d, "SELECT COUNT(*) FROM phobos_db_checkpoint_failures"); got[0] != "0" {
				t.Fatalf("failures left: %v", got)
			}
		})
	}
}
