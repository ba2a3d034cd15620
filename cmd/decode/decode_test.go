package decode

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deimos-cli/deimos/internal/cmdutil"
	"github.com/deimos-cli/deimos/pkg/errs"
)

func runCmd(t *testing.T, stdin string, args ...string) (string, string, error) {
	t.Helper()
	io, out, errOut := cmdutil.Test(stdin)
	f := &cmdutil.Factory{IO: io, Getenv: func(string) (string, bool) { return "", false }}
	sp, _ := filepath.Abs("../../testdata/schemas")
	f.Flags.SchemaPath = sp
	f.Flags.ConfigFile = filepath.Join(t.TempDir(), "none.yaml")
	os.WriteFile(f.Flags.ConfigFile, nil, 0o600)
	c := NewCmd(f, nil)
	c.SetArgs(args)
	c.SilenceErrors, c.SilenceUsage = true, true
	err := c.ExecuteContext(context.Background())
	return out.String(), errOut.String(), err
}

func TestDecode(t *testing.T) {
	tests := []struct {
		name, in string
		args     []string
		want     string
		code     int
	}{
		{"bare avro hex", "0661626318\n", []string{"--schema", "com.acme.Simple", "--input-encoding", "hex"}, `{"test_id":"abc","some_int":12}` + "\n", 0},
		{"key and value", "a2V5\teyJhIjoxfQ==\n", nil, `{"key":"key","value":{"a":1}}` + "\n", 0},
		{"tombstone", "a2V5\t\n", nil, `{"key":"key","value":null}` + "\n", 0},
		{"bad base64", "!!!\n", nil, "", 1},
		{"trailing bytes", "066162631800\n", []string{"--schema", "com.acme.Simple", "--input-encoding", "hex"}, "", 1},
		{"no registry", "AAAAAAEG\n", nil, "", 2},
		{"bad encoding flag", "", []string{"--input-encoding", "b32"}, "", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, _, err := runCmd(t, tt.in, tt.args...)
			if errs.ExitCode(err) != tt.code || out != tt.want {
				t.Fatalf("out %q err %v (code %d), want %q code %d", out, err, errs.ExitCode(err), tt.want, tt.code)
			}
		})
	}
	// Bad input: one clear line naming the fault, exit 1, no output.
	hexIn := []string{"--input-encoding", "hex"}
	bad := []struct {
		name, in string
		args     []string
		want     string
	}{
		{"truncated container file", "4f626a0104166176726f2e736368656d61", nil, "line 1: value: Avro container file: truncated header"},
		{"container file without sync marker", "4f626a0102166176726f2e736368656d61027b00", nil, "line 1: value: Avro container file: truncated header (no sync marker)"},
		{"truncated Confluent header", "000001", nil, "line 1: value: truncated Confluent header: 3 bytes, need 5"},
		{"wrong magic for confluent", "010203040506", []string{"--wire", "confluent", "--schema", "com.acme.Simple"}, "line 1: value: not Confluent-framed: first byte is 0x01, want 0x00"},
		{"wrong magic for ocf", "4f626a0267", []string{"--wire", "ocf", "--schema", "com.acme.Simple"}, `line 1: value: not an Avro container file (no Obj\x01 magic)`},
		{"truncated bare avro", "066162", []string{"--schema", "com.acme.Simple"}, "line 1: value: Avro data does not match schema com.acme.Simple: truncated"},
		{"huge string length", "feffffffffffffffff01", []string{"--schema", "com.acme.Simple"}, "line 1: value: Avro data does not match schema com.acme.Simple: truncated"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			out, _, err := runCmd(t, tt.in+"\n", append(hexIn, tt.args...)...)
			if errs.ExitCode(err) != 1 || out != "" || err == nil || err.Error() != tt.want {
				t.Fatalf("out %q err %v (code %d), want error %q code 1", out, err, errs.ExitCode(err), tt.want)
			}
		})
	}
	out, stderr, err := runCmd(t, "BmFiYxg=\n!!!\nBmFiYxg=\n", "--schema", "com.acme.Simple", "--keep-going")
	if errs.ExitCode(err) != 1 || strings.Count(out, "\n") != 2 || !strings.Contains(stderr, "line 2:") {
		t.Fatalf("keep-going: %q %q %v", out, stderr, err)
	}
}
