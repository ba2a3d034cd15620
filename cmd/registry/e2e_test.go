package registry_test

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/deimos-cli/deimos/internal/testenv"
	"github.com/deimos-cli/deimos/pkg/admin"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// devRegistry runs `deimos dev` (kfake and the dev registry, which enforces
// compatibility levels) and returns its registry URL.
func devRegistry(t *testing.T) string {
	t.Helper()
	cmd := exec.Command(testenv.Binary(t), "dev", "--kafka-port", "0", "--registry-port", "0", "--state-file", t.TempDir()+"/dev.env")
	cmd.Dir = t.TempDir()
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGINT)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatal("deimos dev exited before printing its addresses")
			}
			if strings.HasPrefix(l, "export ") {
				for _, f := range strings.Fields(l) {
					if v, ok := strings.CutPrefix(f, "DEIMOS_REGISTRY_URL="); ok {
						go func() { // keep draining
							for range lines {
							}
						}()
						return v
					}
				}
			}
		case <-timeout:
			t.Fatal("deimos dev printed no export line within 30s")
		}
	}
}

func write(t *testing.T, dir, name, body string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
}

const (
	address = `{"type":"record","name":"Address","namespace":"com.acme","fields":[{"name":"city","type":"string"}]}`
	orderV1 = `{"type":"record","name":"Order","namespace":"com.acme","fields":[{"name":"id","type":"long"},{"name":"ship_to","type":"com.acme.Address"}]}`
	orderV2 = `{"type":"record","name":"Order","namespace":"com.acme","fields":[{"name":"id","type":"long"},{"name":"ship_to","type":"com.acme.Address"},{"name":"note","type":["null","string"],"default":null}]}`
	orderX  = `{"type":"record","name":"Order","namespace":"com.acme","fields":[{"name":"id","type":"string"},{"name":"ship_to","type":"com.acme.Address"}]}`
)

// Register, get, versions and compat-level set round trip against the dev
// registry; an incompatible register is its 409 (exit 1).
func TestRegistryRoundTripAgainstDev(t *testing.T) {
	url := devRegistry(t)
	dir := t.TempDir()
	write(t, dir, "Address.avsc", address)
	write(t, dir, "Order.avsc", orderV1)
	write(t, dir, "Order2.avsc", orderV2)
	write(t, dir, "OrderBad.avsc", orderX)
	run := func(args ...string) testenv.Result {
		return testenv.Run(t, dir, []string{"DEIMOS_REGISTRY_URL=" + url}, "", args...)
	}
	info := func(r testenv.Result, what string) admin.SchemaInfo {
		t.Helper()
		var si admin.SchemaInfo
		if err := json.Unmarshal([]byte(r.OK(t, what)), &si); err != nil {
			t.Fatal(err)
		}
		return si
	}

	out := run("registry", "register", "address-value", "Address.avsc").OK(t, "register address")
	if !strings.HasPrefix(out, "address-value version 1 id ") {
		t.Fatalf("register output %q", out)
	}
	v1 := info(run("registry", "register", "orders-value", "Order.avsc", "--reference", "com.acme.Address=address-value@latest", "-o", "json"), "register order")
	if v1.Subject != "orders-value" || v1.Version != 1 || v1.ID <= 0 || len(v1.References) != 1 || v1.References[0] != (admin.Reference{Name: "com.acme.Address", Subject: "address-value", Version: 1}) {
		t.Fatalf("registered: %+v", v1)
	}
	// registering the same schema again keeps id and version
	again := info(run("registry", "register", "orders-value", "Order.avsc", "--reference", "com.acme.Address=address-value@1", "-o", "json"), "register again")
	if again.ID != v1.ID || again.Version != 1 {
		t.Fatalf("re-register: %+v, first %+v", again, v1)
	}

	got := info(run("registry", "get", "orders-value", "--follow-references", "-o", "json"), "get")
	if got.ID != v1.ID || got.Version != 1 || strings.TrimSpace(got.Schema) != orderV1 || len(got.Resolved) != 1 ||
		got.Resolved[0].Subject != "address-value" || strings.TrimSpace(got.Resolved[0].Schema) != address {
		t.Fatalf("get: %+v", got)
	}
	byID := info(run("registry", "get", "--id", strconv.Itoa(v1.ID), "-o", "json"), "get --id")
	if byID.ID != v1.ID || len(byID.UsedBy) != 1 || byID.UsedBy[0] != (admin.SubjectVersion{Subject: "orders-value", Version: 1}) {
		t.Fatalf("get --id: %+v", byID)
	}
	if s := run("registry", "get", "orders-value@1", "--schema-only").OK(t, "schema-only"); strings.TrimSpace(s) != orderV1 {
		t.Fatalf("--schema-only printed %q", s)
	}
	text := run("registry", "get", "orders-value").OK(t, "get text")
	if !strings.Contains(text, "References:  com.acme.Address=address-value@1") || !strings.HasSuffix(text, orderV1+"\n") {
		t.Fatalf("get text:\n%s", text)
	}

	// compat-level: inherited BACKWARD, then FULL on the subject
	if out := run("registry", "compat-level", "get", "orders-value").OK(t, "compat get"); !strings.Contains(out, "orders-value  BACKWARD  global") {
		t.Fatalf("compat get:\n%s", out)
	}
	run("registry", "compat-level", "set", "--level", "full", "orders-value").OK(t, "compat set")
	var lv []admin.CompatLevel
	json.Unmarshal([]byte(run("registry", "compat-level", "get", "orders-value", "-o", "json").OK(t, "compat get json")), &lv)
	if len(lv) != 1 || lv[0] != (admin.CompatLevel{Subject: "orders-value", Level: "FULL", Source: "subject"}) {
		t.Fatalf("compat level after set: %+v", lv)
	}
	if r := run("registry", "compat-level", "set", "--level", "SIDEWAYS", "orders-value"); r.Code != 2 {
		t.Fatalf("bad level: exit %d %q", r.Code, r.Stderr)
	}

	// a FULL-compatible change registers as version 2
	v2 := info(run("registry", "register", "orders-value", "Order2.avsc", "--reference", "com.acme.Address=address-value@1", "-o", "json"), "register v2")
	if v2.Version != 2 || v2.ID == v1.ID {
		t.Fatalf("v2: %+v", v2)
	}
	var vs []admin.SchemaInfo
	json.Unmarshal([]byte(run("registry", "versions", "orders-value", "-o", "json").OK(t, "versions")), &vs)
	if len(vs) != 2 || vs[0].Version != 1 || vs[1].Version != 2 || vs[1].ID != v2.ID {
		t.Fatalf("versions: %+v", vs)
	}

	// an incompatible one is the dev registry's 409: exit 1, nothing registered
	r := run("registry", "register", "orders-value", "OrderBad.avsc", "--reference", "com.acme.Address=address-value@1")
	if r.Code != 1 || !strings.Contains(r.Stderr, "409 Conflict") || !strings.Contains(r.Stderr, "incompatible") {
		t.Fatalf("incompatible register: exit %d %q", r.Code, r.Stderr)
	}
	json.Unmarshal([]byte(run("registry", "versions", "orders-value", "-o", "json").OK(t, "versions")), &vs)
	if len(vs) != 2 {
		t.Fatalf("a refused register added a version: %+v", vs)
	}

	var subjects []string
	json.Unmarshal([]byte(run("registry", "subjects", "--prefix", "ord", "-o", "json").OK(t, "subjects")), &subjects)
	if len(subjects) != 1 || subjects[0] != "orders-value" {
		t.Fatalf("subjects --prefix: %v", subjects)
	}

	// deletes need --yes
	if r := run("registry", "delete", "orders-value@2"); r.Code != 2 || !strings.Contains(r.Stderr, "--yes") {
		t.Fatalf("delete without --yes: exit %d %q", r.Code, r.Stderr)
	}
	run("registry", "delete", "orders-value@2", "--yes").OK(t, "delete version")
	json.Unmarshal([]byte(run("registry", "versions", "orders-value", "-o", "json").OK(t, "versions")), &vs)
	if len(vs) != 1 {
		t.Fatalf("after deleting version 2: %+v", vs)
	}
	if out := run("registry", "delete", "orders-value", "--yes", "--permanent").OK(t, "permanent delete"); !strings.Contains(out, "(permanent)") {
		t.Fatalf("permanent delete: %q", out)
	}
	json.Unmarshal([]byte(run("registry", "subjects", "--deleted", "-o", "json").OK(t, "subjects")), &subjects)
	if len(subjects) != 1 || subjects[0] != "address-value" {
		t.Fatalf("after a permanent delete: %v", subjects)
	}
	if r := run("registry", "get", "orders-value"); r.Code != 1 || !strings.Contains(r.Stderr, "404") {
		t.Fatalf("get a deleted subject: exit %d %q", r.Code, r.Stderr)
	}
}

// 401 and 403 are exit 2 and say what to check; an unreachable registry
// is exit 3; no registry configured is exit 2.
func TestRegistryErrors(t *testing.T) {
	reg := testenv.Registry(t, srfake.WithAuth("Basic "+base64.StdEncoding.EncodeToString([]byte("ci:s3cret-pw"))))
	dir := t.TempDir()
	run := func(env []string, args ...string) testenv.Result { return testenv.Run(t, dir, env, "", args...) }

	r := run([]string{"DEIMOS_REGISTRY_URL=" + reg.URL()}, "registry", "subjects")
	if r.Code != 2 || !strings.Contains(r.Stderr, "401 Unauthorized") || !strings.Contains(r.Stderr, "schema.registry.username/password") {
		t.Fatalf("401: exit %d %q", r.Code, r.Stderr)
	}
	// credentials in the URL become basic auth and never show up
	withCreds := strings.Replace(reg.URL(), "://", "://ci:s3cret-pw@", 1)
	run([]string{"DEIMOS_REGISTRY_URL=" + withCreds}, "registry", "subjects").OK(t, "subjects with credentials")
	r = run([]string{"DEIMOS_REGISTRY_URL=" + strings.Replace(reg.URL(), "://", "://ci:wrong-pw@", 1)}, "registry", "subjects")
	if r.Code != 2 || strings.Contains(r.Stderr, "wrong-pw") {
		t.Fatalf("wrong password: exit %d %q", r.Code, r.Stderr)
	}

	reg.Intercept(func(w http.ResponseWriter, req *http.Request) bool {
		if req.Method == http.MethodPut {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusForbidden)
			w.Write([]byte(`{"error_code":40301,"message":"User is denied operation Write on Subject: orders-value"}`))
			return true
		}
		return false
	})
	r = run([]string{"DEIMOS_REGISTRY_URL=" + withCreds}, "registry", "compat-level", "set", "--level", "NONE", "orders-value")
	if r.Code != 2 || !strings.Contains(r.Stderr, "403 Forbidden") || !strings.Contains(r.Stderr, "not allowed") {
		t.Fatalf("403: exit %d %q", r.Code, r.Stderr)
	}

	r = run([]string{"DEIMOS_REGISTRY_URL=http://127.0.0.1:1"}, "registry", "subjects")
	if r.Code != 3 || !strings.Contains(r.Stderr, "schema registry unreachable") {
		t.Fatalf("unreachable: exit %d %q", r.Code, r.Stderr)
	}
	r = run([]string{"DEIMOS_REGISTRY_URL="}, "registry", "subjects")
	if r.Code != 2 || !strings.Contains(r.Stderr, "no schema registry configured") {
		t.Fatalf("no registry: exit %d %q", r.Code, r.Stderr)
	}
}
