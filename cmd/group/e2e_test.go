package group_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/deimos-cli/deimos/internal/testenv"
	"github.com/deimos-cli/deimos/pkg/admin"
)

func TestMain(m *testing.M) { testenv.Main(m) }

var base = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

// cluster has topic orders with 3 partitions of 10 records each; the
// record at offset i was written at base + i seconds.
func cluster(t *testing.T) []string {
	t.Helper()
	c := testenv.KafkaWith(t, kfake.NumBrokers(1), kfake.SeedTopics(3, "orders"))
	brokers := c.ListenAddrs()
	cl := client(t, brokers, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	for p := int32(0); p < 3; p++ {
		for i := 0; i < 10; i++ {
			r := &kgo.Record{Topic: "orders", Partition: p, Value: []byte(fmt.Sprintf(`{"p":%d,"i":%d}`, p, i)), Timestamp: base.Add(time.Duration(i) * time.Second)}
			if err := cl.ProduceSync(context.Background(), r).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
	}
	return brokers
}

func client(t *testing.T, brokers []string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(brokers...)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func committed(t *testing.T, brokers []string, group string) map[int32]int64 {
	t.Helper()
	os, err := kadm.NewClient(client(t, brokers)).FetchOffsets(context.Background(), group)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int32]int64{}
	os.Each(func(o kadm.OffsetResponse) { out[o.Partition] = o.At })
	return out
}

func commit(t *testing.T, brokers []string, group string, at map[int32]int64) {
	t.Helper()
	os := kadm.Offsets{}
	for p, o := range at {
		os.Add(kadm.Offset{Topic: "orders", Partition: p, At: o, LeaderEpoch: -1})
	}
	if err := kadm.NewClient(client(t, brokers)).CommitAllOffsets(context.Background(), group, os); err != nil {
		t.Fatal(err)
	}
}

func deimos(t *testing.T, brokers []string, args ...string) testenv.Result {
	t.Helper()
	return testenv.Run(t, "", []string{"DEIMOS_BROKERS=" + strings.Join(brokers, ",")}, "", args...)
}

type envelope struct {
	Partition int32  `json:"partition"`
	Offset    int64  `json:"offset"`
	Timestamp string `json:"timestamp"`
}

// consumeGroup runs `deimos consume -g group -e` and returns the offsets
// it printed per partition.
func consumeGroup(t *testing.T, brokers []string, group string) map[int32][]int64 {
	t.Helper()
	out := deimos(t, brokers, "consume", "-t", "orders", "-g", group, "-e", "--output", "json").OK(t, "consume -g "+group)
	got := map[int32][]int64{}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if l == "" {
			continue
		}
		var e envelope
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatalf("%q: %v", l, err)
		}
		got[e.Partition] = append(got[e.Partition], e.Offset)
	}
	return got
}

func plan(t *testing.T, r testenv.Result) admin.SeekPlan {
	t.Helper()
	var p admin.SeekPlan
	if err := json.Unmarshal([]byte(r.OK(t, "seek")), &p); err != nil {
		t.Fatal(err)
	}
	return p
}

// A seek is followed by a consume of the group that starts exactly where
// the seek said, for each kind of target; a dry run commits nothing.
func TestSeekThenConsumeStartsThere(t *testing.T) {
	brokers := cluster(t)
	all := map[int32]int64{0: 10, 1: 10, 2: 10}
	tests := []struct {
		args []string
		want map[int32]int64 // target per partition
	}{
		{[]string{"--to", "-3"}, map[int32]int64{0: 7, 1: 7, 2: 7}},
		{[]string{"--to", "start"}, map[int32]int64{0: 0, 1: 0, 2: 0}},
		{[]string{"--to", "4"}, map[int32]int64{0: 4, 1: 4, 2: 4}},
		{[]string{"--to", base.Add(6500 * time.Millisecond).Format(time.RFC3339Nano)}, map[int32]int64{0: 7, 1: 7, 2: 7}},
		{[]string{"--to", "@" + fmt.Sprint(base.Add(2*time.Second).UnixMilli()), "--partitions", "1"}, map[int32]int64{1: 2}},
		{[]string{"--to", "end", "--topic", "orders", "-p", "0,2"}, map[int32]int64{0: 10, 2: 10}},
	}
	for i, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			group := fmt.Sprintf("billing-%d", i)
			commit(t, brokers, group, all)

			dry := plan(t, deimos(t, brokers, append([]string{"group", "seek", group, "--dry-run", "-o", "json"}, tt.args...)...))
			if !dry.DryRun || dry.Applied || len(dry.Moves) != len(tt.want) {
				t.Fatalf("dry run plan: %+v", dry)
			}
			for _, m := range dry.Moves {
				if m.Current != 10 || m.Target != tt.want[m.Partition] {
					t.Fatalf("dry run partition %d: current %d target %d, want 10 → %d", m.Partition, m.Current, m.Target, tt.want[m.Partition])
				}
			}
			if got := committed(t, brokers, group); fmt.Sprint(got) != fmt.Sprint(all) {
				t.Fatalf("the dry run committed: %v", got)
			}

			p := plan(t, deimos(t, brokers, append([]string{"group", "seek", group, "-o", "json"}, tt.args...)...))
			if !p.Applied {
				t.Fatalf("seek not applied: %+v", p)
			}
			want := map[int32]int64{0: 10, 1: 10, 2: 10}
			for part, o := range tt.want {
				want[part] = o
			}
			if got := committed(t, brokers, group); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("committed %v, want %v", got, want)
			}
			got := consumeGroup(t, brokers, group)
			for part := int32(0); part < 3; part++ {
				var exp []int64
				for o := want[part]; o < 10; o++ {
					exp = append(exp, o)
				}
				if fmt.Sprint(got[part]) != fmt.Sprint(exp) {
					t.Fatalf("partition %d: consume read offsets %v, want %v (the seek said %d)", part, got[part], exp, want[part])
				}
			}
		})
	}
}

func TestSeekEdges(t *testing.T) {
	brokers := cluster(t)
	// a group with no commits needs --topic; with it, a new group is positioned
	r := deimos(t, brokers, "group", "seek", "fresh", "--to", "start")
	if r.Code != 2 || !strings.Contains(r.Stderr, "--topic") {
		t.Fatalf("no commits, no --topic: exit %d %q", r.Code, r.Stderr)
	}
	p := plan(t, deimos(t, brokers, "group", "seek", "fresh", "--to", "-2", "--topic", "orders", "-o", "json"))
	if len(p.Moves) != 3 || p.Moves[0].Current != -1 || p.Moves[0].Target != 8 {
		t.Fatalf("new group: %+v", p)
	}
	if got := consumeGroup(t, brokers, "fresh"); len(got[0]) != 2 || got[0][0] != 8 {
		t.Fatalf("consume after positioning a new group: %v", got)
	}
	// offsets outside the log are clamped, and said so
	commit(t, brokers, "clamp", map[int32]int64{0: 5})
	p = plan(t, deimos(t, brokers, "group", "seek", "clamp", "--to", "99", "-o", "json"))
	if len(p.Moves) != 3 || p.Moves[0].Target != 10 || !strings.Contains(p.Moves[0].Note, "past the end") {
		t.Fatalf("clamp: %+v", p)
	}
	for _, bad := range [][]string{
		{"group", "seek", "clamp"},
		{"group", "seek", "clamp", "--to", "soon"},
		{"group", "seek", "clamp", "--to", "start", "-p", "7"},
	} {
		if r := deimos(t, brokers, bad...); r.Code != 2 {
			t.Errorf("%v: exit %d %q, want 2", bad, r.Code, r.Stderr)
		}
	}
	if r := deimos(t, brokers, "group", "seek", "clamp", "--to", "start", "--topic", "nosuch"); r.Code != 1 || !strings.Contains(r.Stderr, "nosuch does not exist") {
		t.Errorf("missing topic: exit %d %q", r.Code, r.Stderr)
	}
}

// While a member is in the group, seek and delete are refused and the
// committed offsets stay; describe shows the member, its assignment and
// the lag. After the member leaves the same seek goes through.
func TestSeekRefusedWhileMemberActive(t *testing.T) {
	brokers := cluster(t)
	commit(t, brokers, "billing", map[int32]int64{0: 4, 1: 6, 2: 10})
	before := committed(t, brokers, "billing")

	member := client(t, brokers, kgo.ConsumerGroup("billing"), kgo.ConsumeTopics("orders"), kgo.ClientID("billing-worker"),
		kgo.DisableAutoCommit(), kgo.FetchMaxWait(100*time.Millisecond))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { // keep the member polling (and so in the group) without committing
		defer close(done)
		for ctx.Err() == nil {
			member.PollFetches(ctx)
		}
	}()
	stop := func() {
		cancel()
		<-done
		member.Close() // leaves the group
	}
	defer func() {
		if ctx.Err() == nil {
			stop()
		}
	}()
	adm := kadm.NewClient(client(t, brokers))
	waitFor(t, "the member to join", func() bool {
		d, err := adm.DescribeGroups(context.Background(), "billing")
		g := d["billing"]
		return err == nil && g.State == "Stable" && len(g.Members) == 1 && len(g.AssignedPartitions()["orders"]) == 3
	})

	r := deimos(t, brokers, "group", "seek", "billing", "--to", "start")
	if r.Code != 1 || !strings.Contains(r.Stderr, "refusing to seek group billing") || !strings.Contains(r.Stderr, "billing-worker@") || r.Stdout != "" {
		t.Fatalf("seek with an active member: exit %d\nstdout %q\nstderr %q", r.Code, r.Stdout, r.Stderr)
	}
	if got := committed(t, brokers, "billing"); fmt.Sprint(got) != fmt.Sprint(before) {
		t.Fatalf("a refused seek changed the offsets: %v → %v", before, got)
	}
	// a dry run still shows the plan, and says the seek would be refused
	r = deimos(t, brokers, "group", "seek", "billing", "--to", "start", "--dry-run")
	if r.Code != 0 || !strings.Contains(r.Stdout, "orders  1          6        0") || !strings.Contains(r.Stderr, "would be refused") {
		t.Fatalf("dry run with an active member: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	r = deimos(t, brokers, "group", "delete", "billing", "--yes")
	if r.Code != 1 || !strings.Contains(r.Stdout, "active members") {
		t.Fatalf("delete with an active member: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}

	var g admin.GroupLag
	if err := json.Unmarshal([]byte(deimos(t, brokers, "group", "describe", "billing", "-o", "json").OK(t, "describe")), &g); err != nil {
		t.Fatal(err)
	}
	if g.State != "Stable" || len(g.Members) != 1 || g.Members[0].ClientID != "billing-worker" || len(g.Members[0].Assigned) != 1 ||
		fmt.Sprint(g.Members[0].Assigned[0].Partitions) != "[0 1 2]" {
		t.Fatalf("describe members: %+v", g)
	}
	wantLag := map[int32][3]int64{0: {4, 10, 6}, 1: {6, 10, 4}, 2: {10, 10, 0}}
	for _, p := range g.Partitions {
		w := wantLag[p.Partition]
		if p.Topic != "orders" || [3]int64{p.Committed, p.End, p.Lag} != w || p.ClientID != "billing-worker" {
			t.Fatalf("partition %d: %+v, want committed/end/lag %v", p.Partition, p, w)
		}
	}
	if g.TotalLag != 10 || len(g.Partitions) != 3 {
		t.Fatalf("total lag %d over %d partitions, want 10 over 3", g.TotalLag, len(g.Partitions))
	}
	list := deimos(t, brokers, "group", "list").OK(t, "list")
	if !strings.Contains(list, "billing  Stable  consumer") || !strings.HasSuffix(strings.TrimSpace(list), "1") {
		t.Fatalf("group list:\n%s", list)
	}

	stop()
	waitFor(t, "the member to leave", func() bool {
		d, err := adm.DescribeGroups(context.Background(), "billing")
		return err == nil && len(d["billing"].Members) == 0
	})
	p := plan(t, deimos(t, brokers, "group", "seek", "billing", "--to", "start", "-o", "json"))
	if !p.Applied || fmt.Sprint(committed(t, brokers, "billing")) != fmt.Sprint(map[int32]int64{0: 0, 1: 0, 2: 0}) {
		t.Fatalf("seek after the member left: %+v", p)
	}
	deimos(t, brokers, "group", "delete", "billing", "--yes").OK(t, "delete")
	if r := deimos(t, brokers, "group", "describe", "billing"); r.Code != 1 || !strings.Contains(r.Stderr, "does not exist") {
		t.Fatalf("describe a deleted group: exit %d %q", r.Code, r.Stderr)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testenv.WaitFor(t, 30*time.Second, what, cond)
}
