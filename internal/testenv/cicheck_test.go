package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestCICheckNamesTheGap runs .ci/check, the step of .ci/run that verifies
// every tool and file the tests use after installing, with one thing taken
// away each time: it must fail with one line naming exactly that thing.
func TestCICheckNamesTheGap(t *testing.T) {
	script := filepath.Join(OracleDir(), "..", "..", ".ci", "check")
	tools := []string{"bash", "dirname", "ls", "go", "gcc", "git", "kcat", "jq", "sqlite3", "protoc", "node", "npm", "script", "mariadbd", "mariadb-install-db", "mariadb", "systemd-analyze", "curl"}
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			Missing(t, tool)
		}
	}
	pathWithout := func(t *testing.T, drop string) string {
		dir := t.TempDir()
		for _, tool := range tools {
			if tool == drop {
				continue
			}
			p, _ := exec.LookPath(tool)
			if err := os.Symlink(p, filepath.Join(dir, tool)); err != nil {
				t.Fatal(err)
			}
		}
		return dir
	}
	cases := []struct {
		name, dropTool, protoInclude, want string
	}{
		{"all present", "", "", ""},
		{"kcat", "kcat", "", "missing after install: command kcat"},
		{"jq", "jq", "", "missing after install: command jq"},
		{"mariadbd", "mariadbd", "", "missing after install: command mariadbd"},
		{"systemd-analyze", "systemd-analyze", "", "missing after install: command systemd-analyze"},
		{"well-known protos", "", t.TempDir(), "google/protobuf/timestamp.proto (libprotobuf-dev)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cmd := exec.Command(filepath.Join(pathWithout(t, c.dropTool), "bash"), script)
			cmd.Env = []string{"PATH=" + pathWithout(t, c.dropTool), "HOME=" + os.Getenv("HOME")}
			if c.protoInclude != "" {
				cmd.Env = append(cmd.Env, "PROTO_INCLUDE="+c.protoInclude)
			}
			out, err := cmd.CombinedOutput()
			lines := strings.Split(strings.TrimSpace(string(out)), "\n")
			if c.want == "" {
				if err != nil {
					t.Fatalf(".ci/check with everything present: %v\n%s", err, out)
				}
				return
			}
			if err == nil {
				t.Fatalf(".ci/check passed without %s", c.name)
			}
			if len(lines) != 1 || !strings.Contains(lines[0], c.want) {
				t.Fatalf(".ci/check output = %q, want one line containing %q", out, c.want)
			}
		})
	}
}
