package encode

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/deimos-cli/deimos/internal/testenv"
)

const debianPython = "/usr/bin/python3"

func pythonAvro(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(debianPython); err != nil {
		testenv.Missing(t, debianPython)
	}
	if err := exec.Command(debianPython, "-c", "import avro.io").Run(); err != nil {
		testenv.Missing(t, "python3-avro for "+debianPython)
	}
}

func runPy(t *testing.T, stdin []byte, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(debianPython, append([]string{"../../testdata/interop/avro_interop.py"}, args...)...)
	cmd.Stdin = bytes.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python %v: %v\n%s", args, err, stderr.String())
	}
	return out
}

func canon(t *testing.T, b []byte) string {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	out, _ := json.Marshal(v)
	return string(out)
}

// TestPythonAvroInterop: bytes written by Apache Avro (Python) decode with the
// engine, and the engine's bytes decode with Apache Avro, bare and as OCF.
func TestPythonAvroInterop(t *testing.T) {
	pythonAvro(t)
	e := newTestEngine(t, nil, nil)
	// python avro needs a self-contained schema: write the resolved text
	dir := t.TempDir()
	text, err := e.AvroSchemaText("Widget", "com.acme")
	if err != nil {
		t.Fatal(err)
	}
	schemaFile := filepath.Join(dir, "Widget.avsc")
	if err := os.WriteFile(schemaFile, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	// python's own JSON form (union branches unwrapped by the python API; the helper maps logical types to python's date/datetime/Decimal and back)
	pyDatum := `{"id": 5, "name": "caf\u00e9", "price": 2.5, "active": false, "tags": ["x", "y"], "color": "GREEN",
	  "dimensions": {"width": 1.5, "height": 2.0, "unit": "m"}, "amount": "12.34", "made_on": "2024-05-06", "updated_at": "2024-05-06T07:08:09.123Z",
	  "ref": "0b6e1f7a-2f4b-4c11-9f3e-0d7a3b6c5e21", "message_id": "m1", "timestamp": "t1"}`
	for _, wire := range []string{"raw", "ocf"} {
		t.Run("python writes "+wire, func(t *testing.T) {
			b := runPy(t, nil, "write", schemaFile, pyDatum, wire)
			s := Spec{Backend: "avro_local", Schema: "Widget", Namespace: "com.acme", Wire: wire}
			d := dec(t, e, s, nil, b)
			if canon(t, d.Value) != canon(t, []byte(pyDatum)) {
				t.Fatalf("got  %s\nwant %s", canon(t, d.Value), canon(t, []byte(pyDatum)))
			}
			if wire == "ocf" { // detection without a spec
				d = dec(t, e, Spec{}, nil, b)
				if canon(t, d.Value) != canon(t, []byte(pyDatum)) {
					t.Fatalf("zero spec: %s", d.Value)
				}
			}
		})
		t.Run("python reads "+wire, func(t *testing.T) {
			s := Spec{Backend: "avro_local", Schema: "Widget", Namespace: "com.acme", Wire: wire}
			out := enc(t, e, s, Message{Value: []byte(pyDatum)})
			got := runPy(t, out.Value, "read", schemaFile, wire)
			if canon(t, got) != canon(t, []byte(pyDatum)) {
				t.Fatalf("got  %s\nwant %s", canon(t, got), canon(t, []byte(pyDatum)))
			}
		})
	}
	// the golden bytes agree too
	simple := filepath.Join(schemaDir, "com/acme/Simple.avsc")
	b := runPy(t, nil, "write", simple, `{"test_id":"abc","some_int":12}`, "raw")
	if !bytes.Equal(b, golden) {
		t.Fatalf("python golden % x", b)
	}
	_ = context.Background
}
