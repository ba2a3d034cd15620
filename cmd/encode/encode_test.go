package encode

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deimos-cli/deimos/internal/cmdutil"
	"github.com/deimos-cli/deimos/internal/testenv"
	"github.com/deimos-cli/deimos/pkg/errs"
)

func schemaPath(t *testing.T) string {
	t.Helper()
	p, err := filepath.Abs("../../testdata/schemas")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func runCmd(t *testing.T, stdin string, env map[string]string, args ...string) (string, string, error) {
	t.Helper()
	io, out, errOut := cmdutil.Test(stdin)
	if env == nil {
		env = map[string]string{}
	}
	f := &cmdutil.Factory{IO: io, Getenv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }}
	f.Flags.SchemaPath = schemaPath(t)
	f.Flags.ConfigFile = filepath.Join(t.TempDir(), "none.yaml")
	os.WriteFile(f.Flags.ConfigFile, nil, 0o600)
	c := NewCmd(f, nil)
	c.SetArgs(args)
	c.SetOut(out)
	c.SetErr(errOut)
	c.SilenceErrors, c.SilenceUsage = true, true
	err := c.ExecuteContext(context.Background())
	return out.String(), errOut.String(), err
}

func TestEncodeGoldenHex(t *testing.T) {
	out, _, err := runCmd(t, `{"test_id":"abc","some_int":12}`, nil, "--schema", "Simple", "--namespace", "com.acme", "--wire", "raw", "--output-encoding", "hex")
	if err != nil || out != "0661626318\n" {
		t.Fatalf("out %q err %v", out, err)
	}
}

func TestEncodeConfluentLines(t *testing.T) {
	reg := testenv.Registry(t)
	in := "{\"test_id\":\"a\",\"some_int\":1}\n\n{\"test_id\":\"b\",\"some_int\":2}\n"
	out, _, err := runCmd(t, in, map[string]string{"DEIMOS_REGISTRY_URL": reg.URL()}, "--schema", "com.acme.Simple", "--wire", "confluent", "--topic", "simple")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 {
		t.Fatalf("lines %q", lines)
	}
	b, _ := base64.StdEncoding.DecodeString(lines[1])
	if b[0] != 0 || string(b[5:]) != "\x02b\x04" {
		t.Fatalf("bytes % x", b)
	}
}

func TestEncodeErrorsAndKeepGoing(t *testing.T) {
	in := "{\"test_id\":\"a\",\"some_int\":1}\n{\"test_id\":\"b\",\"some_int\":\"x\"}\n{\"test_id\":\"c\",\"some_int\":3}\n"
	out, _, err := runCmd(t, in, nil, "--schema", "Simple", "--wire", "raw")
	if err == nil || err.Error() != `line 2: Simple.some_int: expected int, found "x"` || errs.ExitCode(err) != 1 {
		t.Fatalf("err %v", err)
	}
	if strings.Count(out, "\n") != 1 {
		t.Fatalf("the good first line must stay written: %q", out)
	}
	out, stderr, err := runCmd(t, in, nil, "--schema", "Simple", "--wire", "raw", "--keep-going")
	if errs.ExitCode(err) != 1 || strings.Count(out, "\n") != 2 || !strings.Contains(stderr, "line 2: Simple.some_int") ||
		!strings.Contains(err.Error(), "1 of 3") {
		t.Fatalf("keep-going: out %q stderr %q err %v", out, stderr, err)
	}
	for _, tt := range []struct {
		args []string
		code int
	}{
		{[]string{"--schema", "Nope"}, 2},
		{[]string{"--schema", "Simple", "--wire", "bogus"}, 2},
		{[]string{"--schema", "Simple", "--output-encoding", "raw"}, 2}, // two messages
		{[]string{"--schema", "Simple", "--wire", "confluent", "--registry", "http://127.0.0.1:1"}, 3},
	} {
		in := "{\"test_id\":\"a\",\"some_int\":1}\n{\"test_id\":\"a\",\"some_int\":1}\n"
		args := tt.args
		env := map[string]string{}
		if args[len(args)-2] == "--registry" {
			env["DEIMOS_REGISTRY_URL"] = args[len(args)-1]
			args = args[:len(args)-2]
		}
		_, _, err := runCmd(t, in, env, args...)
		if errs.ExitCode(err) != tt.code {
			t.Errorf("%v: exit %d (%v), want %d", tt.args, errs.ExitCode(err), err, tt.code)
		}
	}
}

// TestBinaryEndToEnd builds the real binary and pipes encode into decode.
func TestBinaryEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := testenv.Binary(t)
	reg := testenv.Registry(t)
	dir := t.TempDir()
	run := func(stdin string, args ...string) (string, string, int) {
		c := exec.Command(bin, append([]string{"--schema-path", schemaPath(t), "--registry", reg.URL()}, args...)...)
		c.Dir = dir
		c.Stdin = strings.NewReader(stdin)
		var o, e strings.Builder
		c.Stdout, c.Stderr = &o, &e
		err := c.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return o.String(), e.String(), code
	}
	in := `{"id":1,"name":"w","price":"2.5","amount":"3.10","updated_at":"2024-01-02T03:04:05Z","message_id":"m","timestamp":"t"}`
	for _, wire := range []string{"confluent", "ocf", "raw"} {
		enc, stderr, code := run(in, "encode", "--schema", "Widget", "--namespace", "com.acme", "--wire", wire, "--topic", "widgets")
		if code != 0 {
			t.Fatalf("encode %s: %d %s", wire, code, stderr)
		}
		args := []string{"decode"}
		if wire == "raw" {
			args = append(args, "--schema", "com.acme.Widget")
		}
		dec, stderr, code := run(enc, args...)
		want := `{"id":1,"name":"w","price":2.5,"active":true,"tags":[],"color":null,"dimensions":null,"amount":"3.10","made_on":null,"updated_at":"2024-01-02T03:04:05Z","ref":null,"message_id":"m","timestamp":"t"}` + "\n"
		if code != 0 || dec != want {
			t.Fatalf("decode %s: code %d %s\n got %s\nwant %s", wire, code, stderr, dec, want)
		}
	}
	enc, _, _ := run(`{"test_id":"abc","some_int":12}`, "encode", "--schema", "Simple", "--wire", "confluent", "--topic", "simple")
	ex, _, code := run(enc, "decode", "--explain")
	// Widget's referenced Dimensions and Widget were registered first: the id is whatever the registry gave
	raw, _ := base64.StdEncoding.DecodeString(strings.TrimSpace(enc))
	if len(raw) < 5 {
		t.Fatalf("encode --wire confluent wrote %q", enc)
	}
	if code != 0 || !strings.Contains(ex, fmt.Sprintf("schema id %d", binary.BigEndian.Uint32(raw[1:5]))) || !strings.Contains(ex, "subject simple-value version 1") ||
		!strings.Contains(ex, "payload:  5 bytes: 06 61 62 63 18") {
		t.Fatalf("explain (%d):\n%s", code, ex)
	}
	_, stderr, code := run("{\"test_id\":\"abc\",\"some_int\":\"x\"}\n", "encode", "--schema", "Simple", "--wire", "raw")
	if code != 1 || stderr != "deimos: line 1: Simple.some_int: expected int, found \"x\"\n" {
		t.Fatalf("bad line: %d %q", code, stderr)
	}
	_, stderr, code = run("AAAAAA==\n", "decode")
	if code != 1 || !strings.Contains(stderr, "line 1: value: truncated Confluent header") {
		t.Fatalf("truncated: %d %q", code, stderr)
	}
}
