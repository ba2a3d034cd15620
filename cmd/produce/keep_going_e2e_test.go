package produce_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deimos-cli/deimos/internal/testenv"
)

// A bad line stops produce (lines before it are sent, exit 1, none after);
// with --keep-going the bad lines are reported by number and skipped, the
// rest is sent, and the exit code is still 1.
func TestProduceKeepGoing(t *testing.T) {
	brokers := testenv.Brokers(t, 1, "kg", "stop", "avro")
	schemas := t.TempDir()
	if err := os.MkdirAll(filepath.Join(schemas, "com/acme"), 0o755); err != nil {
		t.Fatal(err)
	}
	simple, err := os.ReadFile("../../testdata/schemas/com/acme/Simple.avsc")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(schemas, "com/acme/Simple.avsc"), simple, 0o644); err != nil {
		t.Fatal(err)
	}
	e := []string{"DEIMOS_BROKERS=" + strings.Join(brokers, ","), "DEIMOS_SCHEMA_PATH=" + schemas}
	input := `{"n":1}
{"n":2
{"n":3}
not json
{"n":5}
`
	values := func(topic string) []string {
		var vs []string
		for _, en := range parse(t, ok(t, run(t, e, "", "consume", "-t", topic, "-e", "-q"), "consume")) {
			vs = append(vs, string(en.Value))
		}
		return vs
	}

	r := run(t, e, input, "produce", "-t", "stop", "--schema-backend", "json")
	if r.code != 1 || !strings.Contains(r.err, "line 2") {
		t.Fatalf("without --keep-going: exit %d %s", r.code, r.err)
	}
	if got := values("stop"); strings.Join(got, " ") != `{"n":1}` {
		t.Fatalf("without --keep-going the topic holds %v, want only line 1", got)
	}

	r = run(t, e, input, "produce", "-t", "kg", "--schema-backend", "json", "--keep-going")
	if r.code != 1 {
		t.Fatalf("--keep-going with bad lines: exit %d, want 1\n%s", r.code, r.err)
	}
	for _, want := range []string{"line 2: invalid JSON", "line 4: invalid JSON", "produced 3 message(s)", "2 bad input line(s) skipped", "lines 2 and 4"} {
		if !strings.Contains(r.err, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.err)
		}
	}
	if got := values("kg"); strings.Join(got, " ") != `{"n":1} {"n":3} {"n":5}` {
		t.Fatalf("--keep-going sent %v, want lines 1, 3 and 5", got)
	}

	// a schema backend: a missing required field is skipped the same way
	r = run(t, e, "{\"test_id\":\"a\",\"some_int\":1}\n{\"test_id\":\"b\"}\n{\"test_id\":\"c\",\"some_int\":3}\n",
		"produce", "-t", "avro", "--schema-backend", "avro_local", "--schema", "Simple", "--namespace", "com.acme", "--keep-going")
	if r.code != 1 || !strings.Contains(r.err, "line 2: ") || !strings.Contains(r.err, "some_int") || !strings.Contains(r.err, "produced 2 message(s)") {
		t.Fatalf("avro --keep-going: exit %d\n%s", r.code, r.err)
	}

	// nothing bad: exit 0
	r = run(t, e, "{\"n\":1}\n", "produce", "-t", "kg", "--schema-backend", "json", "--keep-going")
	if r.code != 0 || strings.Contains(r.err, "skipped") {
		t.Fatalf("clean input with --keep-going: exit %d %s", r.code, r.err)
	}
}
