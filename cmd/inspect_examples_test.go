package cmd

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/deimos-cli/deimos/internal/cmdutil"
	"github.com/deimos-cli/deimos/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// examples returns every command under the named top-level commands with
// the example lines of its help.
func examples(t *testing.T, names ...string) map[string][]string {
	t.Helper()
	ios, _, _ := cmdutil.Test("")
	root := NewRoot(&cmdutil.Factory{IO: ios, Getenv: func(string) (string, bool) { return "", false }})
	out := map[string][]string{}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		var lines []string
		for _, l := range strings.Split(c.Example, "\n") {
			l = strings.TrimSpace(regexp.MustCompile(`\s+# .*$`).ReplaceAllString(l, ""))
			if l != "" {
				lines = append(lines, l)
			}
		}
		out[c.CommandPath()] = lines
		for _, s := range c.Commands() {
			walk(s)
		}
	}
	for _, n := range names {
		c, _, err := root.Find([]string{n})
		if err != nil || c.Name() != n {
			t.Fatalf("no command %s", n)
		}
		walk(c)
	}
	return out
}

// inspectFixture is a cluster and registry holding what the examples of
// topic, group and registry name, and a directory with the files they read.
func inspectFixture(t *testing.T) (env []string, dir string) {
	t.Helper()
	ctx := context.Background()
	c := testenv.KafkaWith(t, kfake.NumBrokers(3))
	brokers := c.ListenAddrs()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	for _, tp := range []string{"orders", "widgets", "orders-scratch", "tmp-1", "tmp-2"} {
		if _, err := adm.CreateTopic(ctx, 3, 3, nil, tp); err != nil {
			t.Fatal(err)
		}
	}
	at := time.Date(2024, 5, 1, 11, 0, 0, 0, time.UTC)
	for i := 0; i < 12; i++ {
		r := &kgo.Record{Topic: "orders", Value: []byte(fmt.Sprintf(`{"id":%d}`, i)), Timestamp: at.Add(time.Duration(i) * 10 * time.Minute)}
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	for _, g := range []string{"billing", "old-billing", "scratch-1", "scratch-2"} {
		os := kadm.Offsets{}
		for p := int32(0); p < 3; p++ {
			os.Add(kadm.Offset{Topic: "orders", Partition: p, At: 2, LeaderEpoch: -1})
		}
		if err := adm.CommitAllOffsets(ctx, g, os); err != nil {
			t.Fatal(err)
		}
	}

	reg := testenv.Registry(t)
	rc, err := sr.NewClient(sr.URLs(reg.URL()))
	if err != nil {
		t.Fatal(err)
	}
	address := `{"type":"record","name":"Address","namespace":"com.acme","fields":[{"name":"city","type":"string"}]}`
	ref := []sr.SchemaReference{{Name: "com.acme.Address", Subject: "address-value", Version: 1}}
	order := func(extra string) string {
		return `{"type":"record","name":"Order","namespace":"com.acme","fields":[{"name":"id","type":"long"},{"name":"ship_to","type":"com.acme.Address"}` + extra + `]}`
	}
	for _, s := range []struct {
		subject string
		schema  sr.Schema
	}{
		{"address-value", sr.Schema{Schema: address}},
		{"orders-value", sr.Schema{Schema: order(""), References: ref}},
		{"orders-value", sr.Schema{Schema: order(`,{"name":"note","type":["null","string"],"default":null}`), References: ref}},
		{"orders-value", sr.Schema{Schema: order(`,{"name":"note","type":["null","string"],"default":null},{"name":"qty","type":"int","default":1}`), References: ref}},
		{"address-proto-value", sr.Schema{Schema: "syntax = \"proto3\";\npackage acme;\nmessage Address { string city = 1; }\n", Type: sr.TypeProtobuf}},
		{"scratch-value", sr.Schema{Schema: `"string"`}},
	} {
		if _, err := rc.CreateSchema(ctx, s.subject, s.schema); err != nil {
			t.Fatal(err)
		}
	}

	dir = t.TempDir()
	files := map[string]string{
		"schemas/com/acme/Order.avsc": `{"type":"record","name":"Order","namespace":"com.acme","fields":[{"name":"id","type":"long"},{"name":"ship_to","type":` + address + `}]}`,
		"Order.avsc":                  order(""),
		"order.proto":                 "syntax = \"proto3\";\npackage acme;\nimport \"acme/address.proto\";\nmessage Order { int64 id = 1; acme.Address ship_to = 2; }\n",
		"deimos.yaml":                 "topics:\n  - {name: orders, partitions: 3}\n  - {name: payments, partitions: 6, configs: {cleanup.policy: compact}}\nconsumers:\n  - {name: BillingSink, topics: [orders], group: billing, sink: \"table:billing\"}\n",
	}
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return []string{"DEIMOS_BROKERS=" + strings.Join(brokers, ","), "DEIMOS_REGISTRY_URL=" + reg.URL()}, dir
}

// Every topic, group, registry and lag command's help has examples, and each
// example runs (through the binary, in a shell, against kfake and srfake
// set up with what it names) and exits 0.
func TestInspectHelpExamplesRun(t *testing.T) {
	for _, tool := range []string{"bash", "jq"} {
		if _, err := exec.LookPath(tool); err != nil {
			testenv.Missing(t, tool)
		}
	}
	bin := t.TempDir()
	if err := os.Symlink(testenv.Binary(t), filepath.Join(bin, "deimos")); err != nil {
		t.Fatal(err)
	}
	ran := 0
	for path, lines := range examples(t, "topic", "group", "registry", "lag") {
		if len(lines) == 0 {
			t.Errorf("%s --help has no examples", path)
			continue
		}
		for _, line := range lines {
			if !strings.Contains(line, "deimos ") {
				t.Errorf("%s: example %q does not run deimos", path, line)
				continue
			}
			t.Run(line, func(t *testing.T) {
				env, dir := inspectFixture(t)
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				cmd := exec.CommandContext(ctx, "bash", "-c", "set -o pipefail; "+line)
				cmd.Dir = dir
				cmd.Env = append(os.Environ(), append(env, "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"))...)
				out, err := cmd.CombinedOutput()
				if err != nil {
					t.Fatalf("%s: %v\n%s", line, err, out)
				}
				if len(strings.TrimSpace(string(out))) == 0 && !strings.Contains(line, ">") {
					t.Fatalf("%s printed nothing", line)
				}
			})
			ran++
		}
	}
	if ran < 30 {
		t.Fatalf("ran %d examples; expected every command's", ran)
	}
}

// Shell completion offers topic, group and subject names from the live
// cluster and registry (cobra's __complete is what the shell scripts call).
func TestInspectCompletionFromLiveCluster(t *testing.T) {
	env, dir := inspectFixture(t)
	tests := []struct {
		args []string
		want []string
		not  []string
	}{
		{[]string{"topic", "describe", ""}, []string{"orders", "orders-scratch", "tmp-1", "widgets"}, nil},
		{[]string{"topic", "offsets", "or"}, []string{"orders", "orders-scratch"}, []string{"widgets"}},
		{[]string{"topic", "delete", "tmp-1", "tmp"}, []string{"tmp-2"}, []string{"tmp-1"}},
		{[]string{"group", "describe", ""}, []string{"billing", "old-billing", "scratch-1"}, nil},
		{[]string{"group", "seek", "billing", "--topic", "w"}, []string{"widgets"}, []string{"orders"}},
		{[]string{"registry", "get", "ord"}, []string{"orders-value"}, []string{"address-value"}},
		{[]string{"registry", "compat-level", "set", "--level", "FULL", ""}, []string{"address-value", "orders-value", "scratch-value"}, nil},
		{[]string{"registry", "compat-level", "set", "--level", "F"}, []string{"FORWARD", "FULL_TRANSITIVE"}, nil}, // the shell filters fixed words
		{[]string{"topic", "list", "-o", ""}, []string{"text", "json"}, nil},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			r := testenv.Run(t, dir, env, "", append([]string{"__complete"}, tt.args...)...)
			if r.Code != 0 {
				t.Fatalf("exit %d %s", r.Code, r.Stderr)
			}
			got := map[string]bool{}
			for _, l := range strings.Split(r.Stdout, "\n") {
				if l != "" && !strings.HasPrefix(l, ":") {
					got[strings.SplitN(l, "\t", 2)[0]] = true
				}
			}
			for _, w := range tt.want {
				if !got[w] {
					t.Errorf("completion lacks %q: %q", w, r.Stdout)
				}
			}
			for _, n := range tt.not {
				if got[n] {
					t.Errorf("completion offers %q: %q", n, r.Stdout)
				}
			}
		})
	}
	// a dead broker: no names, no hang, no error text in the completions
	r := testenv.Run(t, dir, []string{"DEIMOS_BROKERS=127.0.0.1:1"}, "", "__complete", "topic", "describe", "")
	if r.Code != 0 || strings.TrimSpace(r.Stdout) != ":5" {
		t.Fatalf("completion with a dead broker: exit %d %q", r.Code, r.Stdout)
	}
}
