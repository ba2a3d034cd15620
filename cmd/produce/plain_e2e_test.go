package produce_test

import (
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deimos-cli/deimos/internal/testenv"
)

// The plain backend has one rule in produce and encode: a line is text and
// is sent exactly as given (not parsed as JSON), whether plain comes from
// --schema-backend or from the topic's configuration. kcat (librdkafka) reads
// the exact bytes back, and `encode --backend plain` writes the same bytes.
func TestPlainBackendSendsLinesAsGiven(t *testing.T) {
	kcat, err := exec.LookPath("kcat")
	if err != nil {
		testenv.Missing(t, "kcat")
	}
	addrs := testenv.Brokers(t, 1, "plainflag", "plaincfg")
	cfg := filepath.Join(t.TempDir(), "deimos.yaml")
	body := fmt.Sprintf("kafka: {brokers: [%s]}\ntopics:\n  - {name: plaincfg, backend: plain, key_config: {plain: true}}\n", addrs[0])
	if err := os.WriteFile(cfg, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	e := []string{"DEIMOS_CONFIG=" + cfg}
	lines := []string{`from-deimos`, `{"b": 1, "a": "<x> & y"}`, `"quoted"`, `12.50`, `null`, `héllo wörld`}
	in := strings.Join(lines, "\n") + "\n"
	ok(t, run(t, e, in, "produce", "-t", "plainflag", "-k", "k7", "--schema-backend", "plain"), "produce --schema-backend plain")
	ok(t, run(t, e, in, "produce", "-t", "plaincfg", "-k", "k7"), "produce to a topic with backend: plain")
	for _, topic := range []string{"plainflag", "plaincfg"} {
		out, err := exec.Command(kcat, "-b", addrs[0], "-C", "-t", topic, "-e", "-q", "-f", `%k|%s\n`).CombinedOutput()
		if err != nil {
			t.Fatalf("kcat -C %s: %v %s", topic, err, out)
		}
		var want strings.Builder
		for _, l := range lines {
			want.WriteString("k7|" + l + "\n")
		}
		if string(out) != want.String() {
			t.Errorf("%s: kcat read\n%s\nwant\n%s", topic, out, want.String())
		}
	}
	got := ok(t, run(t, e, in, "encode", "--backend", "plain", "--output-encoding", "hex"), "encode --backend plain")
	var want strings.Builder
	for _, l := range lines {
		want.WriteString(hex.EncodeToString([]byte(l)) + "\n")
	}
	if got != want.String() {
		t.Errorf("encode --backend plain wrote\n%s\nwant\n%s", got, want.String())
	}
}
