package testenv

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// OracleDir is testdata/oracle: the npm packages (Confluent's JavaScript
// serdes, avsc, protobufjs, kafkajs, ajv) that tests use as independent
// implementations. .ci/run installs them with `npm ci` at the locked versions.
func OracleDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "testdata", "oracle")
}

// Node runs a Node.js script with the oracle packages resolvable by require(),
// feeding stdin and returning stdout. A missing node or missing packages skip
// the test (fail under CI); a script failure fails the test with its stderr.
func Node(t testing.TB, script string, stdin []byte, args ...string) []byte {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		Missing(t, "node (Node.js)")
	}
	dir := OracleDir()
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "avsc")); err != nil {
		Missing(t, "npm oracles (cd testdata/oracle && npm ci)")
	}
	cmd := exec.Command(node, append([]string{"-e", script, "--"}, args...)...)
	cmd.Dir = dir
	cmd.Stdin = bytes.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("node oracle: %v\n%s", err, errb.String())
	}
	return out.Bytes()
}
