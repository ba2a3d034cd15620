package compat

import (
	"github.com/deimos-cli/deimos/internal/testenv"

	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

type corpusCase struct {
	Name     string          `json:"name"`
	Old      json.RawMessage `json:"old"`
	New      json.RawMessage `json:"new"`
	Backward bool            `json:"backward"`
	Forward  bool            `json:"forward"`
	Source   string          `json:"source"`
}

func loadAvroCorpus(t *testing.T) []corpusCase {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "compat", "avro_cases.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cases []corpusCase
	if err := json.Unmarshal(b, &cases); err != nil {
		t.Fatal(err)
	}
	return cases
}

func verdict(t *testing.T, mode Mode, typ Type, old, nw []byte) bool {
	t.Helper()
	res, err := Check(mode, typ, []Version{{Label: "old", File: "old", Data: old}, {Label: "new", File: "new", Data: nw}})
	if err != nil {
		t.Fatalf("%s: %v", mode, err)
	}
	if res.Compatible != (len(res.Problems) == 0) {
		t.Fatalf("verdict and problems disagree: %+v", res)
	}
	return res.Compatible
}

// TestAvroCorpus runs every case of testdata/compat/avro_cases.json under
// BACKWARD, FORWARD and FULL (= both), and the transitive levels on two versions.
func TestAvroCorpus(t *testing.T) {
	cases := loadAvroCorpus(t)
	if len(cases) < 150 {
		t.Fatalf("corpus has %d cases, want at least 150", len(cases))
	}
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			if got := verdict(t, Backward, Avro, c.Old, c.New); got != c.Backward {
				t.Errorf("BACKWARD = %v, want %v (%s)", got, c.Backward, c.Source)
			}
			if got := verdict(t, Forward, Avro, c.Old, c.New); got != c.Forward {
				t.Errorf("FORWARD = %v, want %v (%s)", got, c.Forward, c.Source)
			}
			if got := verdict(t, Full, Avro, c.Old, c.New); got != (c.Backward && c.Forward) {
				t.Errorf("FULL = %v, want %v", got, c.Backward && c.Forward)
			}
			if got := verdict(t, FullTransitive, Avro, c.Old, c.New); got != (c.Backward && c.Forward) {
				t.Errorf("FULL_TRANSITIVE = %v, want %v", got, c.Backward && c.Forward)
			}
			if !verdict(t, None, Avro, c.Old, c.New) {
				t.Errorf("NONE must always be compatible")
			}
		})
	}
}

// TestAvroCorpusMatchesPythonAvro re-checks the corpus's expectations with
// python3-avro's port of Java's SchemaCompatibility (an independent
// implementation), when it is installed.
func TestAvroCorpusMatchesPythonAvro(t *testing.T) {
	py := "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import avro.compatibility").Run(); err != nil {
		testenv.Missing(t, "python3-avro (/usr/bin/python3 -c 'import avro.compatibility')")
	}
	out, err := exec.Command(py, filepath.Join("..", "..", "testdata", "compat", "crosscheck_avro.py")).CombinedOutput()
	if err != nil {
		t.Fatalf("python-avro disagrees with the corpus:\n%s", out)
	}
	if !strings.Contains(string(out), "0 disagreements") {
		t.Fatalf("unexpected output: %s", out)
	}
}
