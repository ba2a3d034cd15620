package schemacompat

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"sort"
	"strings"
	"testing"

	"github.com/deimos-cli/deimos/internal/testenv"
)

// deimos runs the binary; it returns stdout, stderr and the exit code.
func deimos(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	c := exec.Command(testenv.Binary(t), args...)
	c.Dir = t.TempDir()
	var o, e bytes.Buffer
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

// TestProtoOneofThroughBinary: `deimos schema-compat --mode BACKWARD|FORWARD
// old.proto new.proto` on every oneof case of testdata/compat: exit 1 with
// the expected Confluent rule where Confluent says incompatible, 0 where it
// says compatible.
func TestProtoOneofThroughBinary(t *testing.T) {
	b, err := os.ReadFile("../../testdata/compat/proto_oneof_cases.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases []struct{ Name, Source, Old, New, Backward, Forward string }
	if err := json.Unmarshal(b, &cases); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for i, c := range cases {
		old := file(t, dir, "old"+strings.Repeat("_", i)+".proto", c.Old)
		nw := file(t, dir, "new"+strings.Repeat("_", i)+".proto", c.New)
		for _, m := range []struct{ mode, want string }{{"BACKWARD", c.Backward}, {"FORWARD", c.Forward}} {
			out, stderr, code := deimos(t, "schema-compat", "--mode", m.mode, "--output", "json", old, nw)
			var rep report
			if err := json.Unmarshal([]byte(out), &rep); err != nil {
				t.Fatalf("%s %s: %v\n%s%s", c.Name, m.mode, err, out, stderr)
			}
			rules := map[string]bool{}
			for _, r := range rep.Results {
				for _, p := range r.Problems {
					rules[p.Rule] = true
				}
			}
			var got []string
			for r := range rules {
				got = append(got, r)
			}
			sort.Strings(got)
			wantCode := 0
			if m.want != "" {
				wantCode = 1
			}
			if code != wantCode || strings.Join(got, ",") != m.want {
				t.Errorf("%s, %s: exit %d, rules %v; want exit %d, %q (%s)", c.Name, m.mode, code, got, wantCode, m.want, c.Source)
			}
		}
	}
	// the text form says why and names the oneof
	for _, c := range cases {
		if c.Name != "two oneofs merged into a new oneof" {
			continue
		}
		o, n := file(t, dir, "m1.proto", c.Old), file(t, dir, "m2.proto", c.New)
		out, _, code := deimos(t, "schema-compat", o, n)
		if code != 1 || !strings.Contains(out, "Order.choice: oneof choice makes fields that were independent mutually exclusive (from oneof pay, oneof ship)") {
			t.Fatalf("text: exit %d\n%s", code, out)
		}
	}
}
