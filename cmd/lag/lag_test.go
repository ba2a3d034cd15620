package lag_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/deimos-cli/deimos/cmd/lag"
	"github.com/deimos-cli/deimos/internal/cmdutil"
	"github.com/deimos-cli/deimos/internal/testenv"
	"github.com/deimos-cli/deimos/pkg/errs"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// deimos lag prints per partition the group's committed offset, the end
// offset and the lag; the figures agree with kcat -Q (end offsets) and
// the group's offsets read directly; --consumer takes the group (and
// topics) from deimos.yaml.
func TestLagAgreesWithKcatAndGroupOffsets(t *testing.T) {
	brokers := testenv.Brokers(t, 2, "lagt", "other")
	ctx := context.Background()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for i, p := range []int32{0, 0, 0, 0, 0, 1, 1, 1} {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "lagt", Partition: p, Value: []byte(fmt.Sprint(i))}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	_ = cl.ProduceSync(ctx, &kgo.Record{Topic: "other", Partition: 0, Value: []byte("x")}).FirstErr()
	adm := kadm.NewClient(cl)
	var offs kadm.Offsets
	offs.Add(kadm.Offset{Topic: "lagt", Partition: 0, At: 2, LeaderEpoch: -1})
	offs.Add(kadm.Offset{Topic: "other", Partition: 0, At: 1, LeaderEpoch: -1})
	if _, err := adm.CommitOffsets(ctx, "billing", offs); err != nil {
		t.Fatal(err)
	}
	fetched, err := adm.FetchOffsets(ctx, "billing")
	if err != nil {
		t.Fatal(err)
	}
	ends := testenv.KcatEnds(t, brokers[0], "lagt", 2)

	dir := t.TempDir()
	cfg := filepath.Join(dir, "deimos.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("kafka: {brokers: [%s]}\nconsumers:\n  - {name: Billing, topics: [lagt], group: billing, sink: \"table:x\"}\n", brokers[0])), 0o600)
	env := []string{"DEIMOS_CONFIG="}

	out := testenv.Run(t, dir, env, "", "--config", cfg, "lag", "--group", "billing", "-o", "json").OK(t, "lag json")
	var doc lag.Doc
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, p := range doc.Partitions {
		if p.Topic != "lagt" {
			continue
		}
		committed := int64(-1)
		if o, ok := fetched.Lookup("lagt", p.Partition); ok {
			committed = o.At
		}
		want := ends[p.Partition] - max(committed, 0)
		if p.Committed != committed || p.End != ends[p.Partition] || p.Lag != want {
			t.Errorf("partition %d: committed %d end %d lag %d; group offsets say %d, kcat end %d, lag %d", p.Partition, p.Committed, p.End, p.Lag, committed, ends[p.Partition], want)
		}
		total += p.Lag
	}
	if total != 3+3 || doc.TotalLag != total || doc.Group != "billing" {
		t.Errorf("lag on lagt %d (want 6), total %d: %+v", total, doc.TotalLag, doc)
	}

	text := testenv.Run(t, dir, env, "", "--config", cfg, "lag", "--consumer", "Billing").OK(t, "lag --consumer")
	for _, want := range []string{"TOPIC  PARTITION  COMMITTED  END  LAG", "lagt   0          2          5    3", "lagt   1          -1         3    3", "group billing (Empty): total lag 6"} {
		if !strings.Contains(text, want) {
			t.Errorf("text output lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "other") {
		t.Errorf("--consumer shows topics the consumer does not read:\n%s", text)
	}
	if r := testenv.Run(t, dir, env, "", "--config", cfg, "lag", "--group", "nobody"); r.Code != 1 || !strings.Contains(r.Stderr, "group does not exist") {
		t.Errorf("unknown group: exit %d %s", r.Code, r.Stderr)
	}
}

func TestLagFlags(t *testing.T) {
	for _, args := range [][]string{{}, {"--group", "a", "--consumer", "b"}, {"extra"}} {
		f := cmdutil.TestFactory()
		err := cmdutil.ExecuteForTest(lag.NewCmd(f, func(context.Context, *lag.Options) error { return nil }), args...)
		if errs.ExitCode(err) != 2 {
			t.Errorf("%v: %v", args, err)
		}
	}
	f := cmdutil.TestFactory()
	var got *lag.Options
	if err := cmdutil.ExecuteForTest(lag.NewCmd(f, func(_ context.Context, o *lag.Options) error { got = o; return nil }), "-g", "billing", "-t", "a,b", "-o", "json"); err != nil {
		t.Fatal(err)
	}
	if got.Group != "billing" || strings.Join(got.Topics, ",") != "a,b" || !got.Output.JSON() {
		t.Errorf("options %+v", got)
	}
}
