package consume

// Tests of the consume command's own flag handling, through NewCmd over
// cmdutil.Test streams (no binary, no terminal), and one real consume against
// kfake.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/deimos-cli/deimos/internal/cmdutil"
	"github.com/deimos-cli/deimos/internal/testenv"
	"github.com/deimos-cli/deimos/pkg/errs"
)

// noEnv keeps the developer's DEIMOS_* variables out of the tests.
func noEnv(string) (string, bool) { return "", false }

type cmdResult struct {
	out, errOut string
	err         error
}

// runCmd runs `consume args...` through NewCmd. tty makes stdout a terminal.
func runCmd(t *testing.T, brokers []string, tty bool, args ...string) cmdResult {
	t.Helper()
	io, out, errOut := cmdutil.Test("")
	io.StdoutTTY = tty
	f := &cmdutil.Factory{IO: io, Getenv: noEnv}
	f.Flags.ConfigFile = "" // defaults only; the test directory has no deimos.yaml
	if len(brokers) > 0 {
		f.Flags.Brokers = strings.Join(brokers, ",")
	} else {
		f.Flags.Brokers = "127.0.0.1:1" // never dialled: usage errors come first
	}
	c := NewCmd(f, nil)
	c.SetArgs(args)
	c.SetOut(&bytes.Buffer{})
	c.SetErr(&bytes.Buffer{})
	c.SilenceUsage, c.SilenceErrors = true, true
	c.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return errs.Usage(err) }) // as the root command does
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := c.ExecuteContext(ctx)
	return cmdResult{out.String(), errOut.String(), err}
}

func TestConsumeUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string // in the error message
	}{
		{"no topic", []string{"-e"}, "-t TOPIC is required"},
		{"empty topic", []string{"-t", "", "-e"}, "-t TOPIC is required"},
		{"only commas and blanks", []string{"-t", " , ,", "-t", ",", "-e"}, "-t TOPIC is required"},
		{"bad offset word", []string{"-t", "a", "-o", "middle"}, `-o: offset "middle": use beginning, end`},
		{"bad offset time", []string{"-t", "a", "-o", "@yesterday"}, `-o: offset "@yesterday"`},
		{"bad offset duration", []string{"-t", "a", "-o", "-1fortnight"}, `-o: offset "-1fortnight"`},
		{"bad until", []string{"-t", "a", "--until", "soon"}, `--until "soon"`},
		{"negative count", []string{"-t", "a", "-c", "-1"}, "-c -1: use a positive count"},
		{"unknown output", []string{"-t", "a", "--output", "yaml"}, `"yaml" is not text, json or raw`},
		{"unknown consumer", []string{"--consumer", "nope"}, `--consumer "nope": no such entry`},
		{"unknown consumer with topic", []string{"-t", "a", "--consumer", "nope"}, `--consumer "nope": no such entry`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runCmd(t, nil, false, tc.args...)
			if r.err == nil {
				t.Fatalf("%v: no error; stdout %q", tc.args, r.out)
			}
			if code := errs.ExitCode(r.err); code != errs.CodeUsage {
				t.Errorf("%v: exit code %d, want %d (%v)", tc.args, code, errs.CodeUsage, r.err)
			}
			msg := r.err.Error()
			t.Logf("exit %d: %s", errs.ExitCode(r.err), msg)
			if !strings.Contains(msg, tc.want) {
				t.Errorf("%v: error %q does not mention %q", tc.args, msg, tc.want)
			}
			if strings.Count(strings.TrimSpace(msg), "\n") > 0 {
				t.Errorf("%v: error is not one line: %q", tc.args, msg)
			}
			if r.out != "" {
				t.Errorf("%v: printed %q on stdout", tc.args, r.out)
			}
		})
	}
}

// produceRecords writes n records (key kI, value {"n":I}) to partition 0 of topic.
func produceRecords(t *testing.T, brokers []string, topic string, n int) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.DefaultProduceTopic(topic),
		kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var rs []*kgo.Record
	for i := 1; i <= n; i++ {
		rs = append(rs, &kgo.Record{Key: []byte(fmt.Sprintf("k%d", i)), Value: []byte(fmt.Sprintf(`{"n":%d}`, i)),
			Headers: []kgo.RecordHeader{{Key: "h", Value: []byte("v")}}})
	}
	if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

type envelopeLine struct {
	Topic     string          `json:"topic"`
	Partition int32           `json:"partition"`
	Offset    int64           `json:"offset"`
	Key       json.RawMessage `json:"key"`
	Value     json.RawMessage `json:"value"`
	Error     string          `json:"error"`
}

func TestConsumeFromKafka(t *testing.T) {
	brokers := testenv.Brokers(t, 1, "widgets", "gadgets")
	produceRecords(t, brokers, "widgets", 3)
	produceRecords(t, brokers, "gadgets", 2)

	parse := func(t *testing.T, out string) []envelopeLine {
		t.Helper()
		var es []envelopeLine
		for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
			var e envelopeLine
			if err := json.Unmarshal([]byte(l), &e); err != nil {
				t.Fatalf("not a JSON line: %q (%v)\nall output:\n%s", l, err, out)
			}
			es = append(es, e)
		}
		return es
	}

	t.Run("json by default when stdout is not a terminal", func(t *testing.T) {
		r := runCmd(t, brokers, false, "-t", "widgets", "-e")
		if r.err != nil {
			t.Fatalf("%v\nstderr: %s", r.err, r.errOut)
		}
		es := parse(t, r.out)
		if len(es) != 3 {
			t.Fatalf("got %d records, want 3:\n%s", len(es), r.out)
		}
		for i, e := range es {
			if e.Topic != "widgets" || e.Partition != 0 || e.Offset != int64(i) || e.Error != "" {
				t.Errorf("record %d: %+v", i, e)
			}
			var v struct{ N int }
			if err := json.Unmarshal(e.Value, &v); err != nil || v.N != i+1 {
				t.Errorf("record %d: value %s, want {\"n\":%d} (%v)", i, e.Value, i+1, err)
			}
			if want := fmt.Sprintf(`"k%d"`, i+1); string(e.Key) != want {
				t.Errorf("record %d: key %s, want %s", i, e.Key, want)
			}
		}
		if !strings.Contains(r.errOut, "consumed 3 record(s)") {
			t.Errorf("summary missing from stderr: %q", r.errOut)
		}
	})

	t.Run("comma list and repeated -t", func(t *testing.T) {
		for _, args := range [][]string{
			{"-t", "widgets,gadgets", "-e", "-q"},
			{"-t", "widgets", "-t", "gadgets", "-e", "-q"},
			{"-t", " widgets , ,gadgets,", "-e", "-q"},
		} {
			r := runCmd(t, brokers, false, args...)
			if r.err != nil {
				t.Fatalf("%v: %v\nstderr: %s", args, r.err, r.errOut)
			}
			n := map[string]int{}
			for _, e := range parse(t, r.out) {
				n[e.Topic]++
			}
			if n["widgets"] != 3 || n["gadgets"] != 2 || len(n) != 2 {
				t.Errorf("%v: records per topic %v, want widgets:3 gadgets:2", args, n)
			}
			if r.errOut != "" {
				t.Errorf("%v: -q still wrote %q", args, r.errOut)
			}
		}
	})

	t.Run("count", func(t *testing.T) {
		r := runCmd(t, brokers, false, "-t", "widgets", "-c", "2", "-q")
		if r.err != nil {
			t.Fatalf("%v\nstderr: %s", r.err, r.errOut)
		}
		if es := parse(t, r.out); len(es) != 2 || es[1].Offset != 1 {
			t.Fatalf("-c 2: %+v", es)
		}
	})

	t.Run("template without --output", func(t *testing.T) {
		r := runCmd(t, brokers, false, "-t", "widgets", "-e", "-q", "-f", `%t %p:%o %k %s\n`)
		if r.err != nil {
			t.Fatalf("%v\nstderr: %s", r.err, r.errOut)
		}
		want := "widgets 0:0 k1 {\"n\":1}\nwidgets 0:1 k2 {\"n\":2}\nwidgets 0:2 k3 {\"n\":3}\n"
		if r.out != want {
			t.Fatalf("got %q, want %q", r.out, want)
		}
	})

	t.Run("pretty by default on a terminal", func(t *testing.T) {
		r := runCmd(t, brokers, true, "-t", "widgets", "-e", "-q")
		if r.err != nil {
			t.Fatalf("%v\nstderr: %s", r.err, r.errOut)
		}
		if strings.HasPrefix(strings.TrimSpace(r.out), `{"topic"`) || !strings.Contains(r.out, "k2") {
			t.Fatalf("not pretty output: %q", r.out)
		}
		// --output json wins over the terminal
		r = runCmd(t, brokers, true, "-t", "widgets", "-e", "-q", "--output", "json")
		if r.err != nil {
			t.Fatal(r.err)
		}
		if es := parse(t, r.out); len(es) != 3 {
			t.Fatalf("--output json on a terminal: %q", r.out)
		}
	})

	t.Run("raw", func(t *testing.T) {
		r := runCmd(t, brokers, false, "-t", "widgets", "-e", "-q", "--output", "raw")
		if r.err != nil {
			t.Fatal(r.err)
		}
		if want := "{\"n\":1}\n{\"n\":2}\n{\"n\":3}\n"; r.out != want {
			t.Fatalf("raw: %q, want %q", r.out, want)
		}
	})
}
