package topic_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/deimos-cli/deimos/internal/testenv"
	"github.com/deimos-cli/deimos/pkg/admin"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func kcat(t *testing.T, args ...string) string {
	t.Helper()
	if _, err := exec.LookPath("kcat"); err != nil {
		testenv.Missing(t, "kcat")
	}
	out, err := exec.Command("kcat", args...).Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("kcat %s: %v\n%s", strings.Join(args, " "), err, stderr)
	}
	return string(out)
}

func adminClient(t *testing.T, brokers []string, opts ...kgo.Opt) (*kgo.Client, *kadm.Client) {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(brokers...)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl, kadm.NewClient(cl)
}

// topicNames lists topics through a new client (kgo caches metadata
// answers for a while, so an old client may not see a change yet).
func topicNames(t *testing.T, brokers []string, topics ...string) kadm.TopicDetails {
	t.Helper()
	_, adm := adminClient(t, brokers)
	td, err := adm.ListTopics(context.Background(), topics...)
	if err != nil {
		t.Fatal(err)
	}
	return td
}

func deimos(t *testing.T, brokers []string, args ...string) testenv.Result {
	t.Helper()
	return testenv.Run(t, "", []string{"DEIMOS_BROKERS=" + strings.Join(brokers, ",")}, "", args...)
}

type kcatMeta struct {
	Brokers []struct {
		ID int32 `json:"id"`
	} `json:"brokers"`
	Topics []struct {
		Topic      string `json:"topic"`
		Partitions []struct {
			Partition int32 `json:"partition"`
			Leader    int32 `json:"leader"`
			Replicas  []struct {
				ID int32 `json:"id"`
			} `json:"replicas"`
			ISRs []struct {
				ID int32 `json:"id"`
			} `json:"isrs"`
		} `json:"partitions"`
	} `json:"topics"`
}

func ids(xs []struct {
	ID int32 `json:"id"`
}) []int32 {
	out := []int32{}
	for _, x := range xs {
		out = append(out, x.ID)
	}
	slices.Sort(out)
	return out
}

func sorted(xs []int32) []int32 {
	out := append([]int32{}, xs...)
	slices.Sort(out)
	return out
}

// The metadata deimos prints (topic list, topic describe) is what
// librdkafka sees through `kcat -L -J`: topics, partition counts, leaders,
// replicas and ISRs, on a three-broker cluster with topics of several
// shapes.
func TestMetadataAgreesWithKcat(t *testing.T) {
	c := testenv.KafkaWith(t, kfake.NumBrokers(3), kfake.SeedTopics(5, "orders"))
	brokers := c.ListenAddrs()
	_, adm := adminClient(t, brokers)
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		p    int32
		rf   int16
	}{{"widgets", 1, 3}, {"payments.v1", 7, 2}, {"audit", 3, 1}} {
		if _, err := adm.CreateTopic(ctx, tc.p, tc.rf, nil, tc.name); err != nil {
			t.Fatal(err)
		}
	}

	var km kcatMeta
	if err := json.Unmarshal([]byte(kcat(t, "-L", "-J", "-b", brokers[0])), &km); err != nil {
		t.Fatal(err)
	}
	if len(km.Brokers) != 3 {
		t.Fatalf("kcat sees %d brokers, want 3", len(km.Brokers))
	}

	var list []admin.Topic
	if err := json.Unmarshal([]byte(deimos(t, brokers, "topic", "list", "--internal", "-o", "json").OK(t, "topic list")), &list); err != nil {
		t.Fatal(err)
	}
	if len(list) != len(km.Topics) {
		t.Fatalf("deimos lists %d topics (%v), kcat %d", len(list), list, len(km.Topics))
	}
	byName := map[string]admin.Topic{}
	for _, tp := range list {
		byName[tp.Name] = tp
	}
	compared := 0
	for _, kt := range km.Topics {
		dt, found := byName[kt.Topic]
		if !found {
			t.Fatalf("kcat lists %s, deimos does not", kt.Topic)
		}
		if dt.Partitions != len(kt.Partitions) {
			t.Errorf("%s: deimos %d partitions, kcat %d", kt.Topic, dt.Partitions, len(kt.Partitions))
		}
		var d admin.TopicDetail
		if err := json.Unmarshal([]byte(deimos(t, brokers, "topic", "describe", kt.Topic, "-o", "json").OK(t, "describe")), &d); err != nil {
			t.Fatal(err)
		}
		if len(d.Partitions) != len(kt.Partitions) {
			t.Fatalf("%s: describe shows %d partitions, kcat %d", kt.Topic, len(d.Partitions), len(kt.Partitions))
		}
		for _, kp := range kt.Partitions {
			dp := d.Partitions[kp.Partition]
			if dp.Partition != kp.Partition || dp.Leader != kp.Leader ||
				!slices.Equal(sorted(dp.Replicas), ids(kp.Replicas)) || !slices.Equal(sorted(dp.ISR), ids(kp.ISRs)) {
				t.Errorf("%s[%d]: deimos leader %d replicas %v isr %v; kcat leader %d replicas %v isr %v", kt.Topic, kp.Partition,
					dp.Leader, dp.Replicas, dp.ISR, kp.Leader, ids(kp.Replicas), ids(kp.ISRs))
			}
			if dt.ReplicationFactor < len(kp.Replicas) {
				t.Errorf("%s: replication %d < %d replicas of partition %d", kt.Topic, dt.ReplicationFactor, len(kp.Replicas), kp.Partition)
			}
			compared++
		}
	}
	if compared < 5+1+7+3 {
		t.Fatalf("compared %d partitions, want all 16", compared)
	}
	// the replication factors asked for are what both report
	if byName["widgets"].ReplicationFactor != 3 || byName["payments.v1"].ReplicationFactor != 2 {
		t.Fatalf("replication: %+v", byName)
	}

	// --regex anchors to the whole name; internal topics hide by default
	var some []admin.Topic
	json.Unmarshal([]byte(deimos(t, brokers, "topic", "list", "--regex", "pay.*", "--regex", "audit", "-o", "json").OK(t, "regex")), &some)
	if len(some) != 2 || some[0].Name != "audit" || some[1].Name != "payments.v1" {
		t.Fatalf("--regex: %+v", some)
	}
	text := deimos(t, brokers, "topic", "list").OK(t, "list text")
	if !strings.HasPrefix(text, "NAME") || !strings.Contains(text, "payments.v1  7           2") {
		t.Fatalf("text list:\n%s", text)
	}
}

// topic offsets --at gives, per partition, the offset `kcat -Q` gives for
// the same timestamp, -1 included when no record is that recent.
func TestOffsetsByTimeAgreeWithKcat(t *testing.T) {
	c := testenv.KafkaWith(t, kfake.NumBrokers(1), kfake.SeedTopics(3, "events"))
	brokers := c.ListenAddrs()
	cl, _ := adminClient(t, brokers, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	base := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	stamps := map[int32][]int{0: {0, 10, 20, 30}, 1: {5, 15}, 2: {}}
	for p, secs := range stamps {
		for _, s := range secs {
			r := &kgo.Record{Topic: "events", Partition: p, Value: []byte("x"), Timestamp: base.Add(time.Duration(s) * time.Second)}
			if err := cl.ProduceSync(context.Background(), r).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
	}
	checked := 0
	for _, sec := range []int{-100, 0, 1, 10, 12, 15, 30, 31, 1000} {
		at := base.Add(time.Duration(sec) * time.Second)
		ms := at.UnixMilli()
		var got []admin.PartitionOffsets
		out := deimos(t, brokers, "topic", "offsets", "events", "--at", strconv.FormatInt(ms, 10), "-o", "json").OK(t, "offsets")
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatal(err)
		}
		// the RFC3339 spelling of the same instant answers the same
		var again []admin.PartitionOffsets
		json.Unmarshal([]byte(deimos(t, brokers, "topic", "offsets", "events", "--at", at.Format(time.RFC3339), "-o", "json").OK(t, "offsets rfc3339")), &again)
		if len(got) != 3 || len(again) != 3 {
			t.Fatalf("at %d: %d/%d partitions", sec, len(got), len(again))
		}
		for _, p := range got {
			line := strings.TrimSpace(kcat(t, "-Q", "-b", brokers[0], "-t", fmt.Sprintf("events:%d:%d", p.Partition, ms)))
			want := line[strings.LastIndex(line, " ")+1:]
			if strconv.FormatInt(*p.Offset, 10) != want {
				t.Errorf("at %+ds partition %d: deimos offset %d, kcat -Q %q", sec, p.Partition, *p.Offset, line)
			}
			if *again[p.Partition].Offset != *p.Offset {
				t.Errorf("at %+ds: RFC3339 and millis disagree", sec)
			}
			if *p.Offset >= 0 && *p.Timestamp < ms {
				t.Errorf("record timestamp %d is before the time asked %d", *p.Timestamp, ms)
			}
			checked++
		}
	}
	if checked != 27 {
		t.Fatalf("checked %d partition/time pairs, want 27", checked)
	}
	// without --at: start and end only
	out := deimos(t, brokers, "topic", "offsets", "events", "-p", "0").OK(t, "offsets text")
	if out != "PARTITION  START  END\n0          0      4\n" {
		t.Fatalf("text offsets:\n%q", out)
	}
	r := deimos(t, brokers, "topic", "offsets", "events", "--at", "yesterday")
	if r.Code != 2 || !strings.Contains(r.Stderr, "RFC3339") {
		t.Fatalf("bad --at: exit %d %s", r.Code, r.Stderr)
	}
	r = deimos(t, brokers, "topic", "offsets", "events", "-p", "9")
	if r.Code != 2 || !strings.Contains(r.Stderr, "no partition 9") {
		t.Fatalf("bad -p: exit %d %s", r.Code, r.Stderr)
	}
	r = deimos(t, brokers, "topic", "offsets", "nosuch")
	if r.Code != 1 || !strings.Contains(r.Stderr, "topic nosuch does not exist") {
		t.Fatalf("missing topic: exit %d %s", r.Code, r.Stderr)
	}
}

func writeConfig(t *testing.T, dir, yaml string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, "deimos.yaml"), []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestCreateFromConfigAndDelete(t *testing.T) {
	c := testenv.KafkaWith(t, kfake.NumBrokers(3))
	brokers := c.ListenAddrs()
	_, adm := adminClient(t, brokers)
	ctx := context.Background()
	if _, err := adm.CreateTopic(ctx, 2, 1, nil, "dev.widgets"); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	writeConfig(t, dir, `
producers: {topic_prefix: "dev."}
topics:
  - name: orders
    partitions: 6
    replication_factor: 3
    configs: {cleanup.policy: compact}
  - name: widgets
    partitions: 9
  - name: audit
pollers:
  - {name: WidgetPoller, table: widgets, topic: polled}
`)
	env := []string{"DEIMOS_BROKERS=" + strings.Join(brokers, ",")}
	run := func(args ...string) testenv.Result { return testenv.Run(t, dir, env, "", args...) }

	var plan []admin.CreateResult
	if err := json.Unmarshal([]byte(run("topic", "create", "--from-config", "--dry-run", "-p", "4", "-o", "json").OK(t, "dry run")), &plan); err != nil {
		t.Fatal(err)
	}
	status := map[string]admin.CreateResult{}
	for _, r := range plan {
		status[r.Name] = r
	}
	if len(plan) != 4 || status["dev.orders"].Status != admin.StatusWouldCreate || status["dev.widgets"].Status != admin.StatusExists ||
		status["dev.audit"].Partitions != 4 || status["dev.polled"].Status != admin.StatusWouldCreate {
		t.Fatalf("dry run plan: %+v", plan)
	}
	td := topicNames(t, brokers)
	if len(td) != 1 {
		t.Fatalf("a dry run created topics: %v", td.Names())
	}

	out := run("topic", "create", "--from-config", "-p", "4").OK(t, "create --from-config")
	for _, want := range []string{"dev.orders   6           3         created", "dev.widgets  9           default   exists", "pollers[0] (WidgetPoller)"} {
		if !strings.Contains(out, want) {
			t.Fatalf("create output lacks %q:\n%s", want, out)
		}
	}
	td = topicNames(t, brokers)
	if got := td.Names(); !slices.Equal(got, []string{"dev.audit", "dev.orders", "dev.polled", "dev.widgets"}) {
		t.Fatalf("topics after create: %v", got)
	}
	if n := len(td["dev.orders"].Partitions); n != 6 {
		t.Fatalf("dev.orders has %d partitions, the config says 6", n)
	}
	if n := len(td["dev.audit"].Partitions); n != 4 {
		t.Fatalf("dev.audit has %d partitions, -p says 4", n)
	}
	if n := len(td["dev.widgets"].Partitions); n != 2 {
		t.Fatalf("the existing dev.widgets was changed: %d partitions", n)
	}
	var d admin.TopicDetail
	json.Unmarshal([]byte(run("topic", "describe", "dev.orders", "-o", "json").OK(t, "describe")), &d)
	if d.ReplicationFactor != 3 || len(d.Configs) != 1 || d.Configs[0].Name != "cleanup.policy" || d.Configs[0].Value != "compact" {
		t.Fatalf("dev.orders: %+v", d)
	}
	// a second run finds everything there: exit 0
	out = run("topic", "create", "--from-config").OK(t, "create again")
	if strings.Count(out, "exists") != 4 {
		t.Fatalf("second create:\n%s", out)
	}
	// creating an existing topic by name is a failure
	if r := run("topic", "create", "dev.orders"); r.Code != 1 || !strings.Contains(r.Stdout, "TOPIC_ALREADY_EXISTS") {
		t.Fatalf("create existing: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}

	// delete needs --yes; without it nothing happens (exit 2)
	r := run("topic", "delete", "dev.audit")
	if r.Code != 2 || !strings.Contains(r.Stderr, "--yes") {
		t.Fatalf("delete without --yes: exit %d %s", r.Code, r.Stderr)
	}
	if td = topicNames(t, brokers, "dev.audit"); td["dev.audit"].Err != nil {
		t.Fatal("dev.audit deleted without --yes")
	}
	run("topic", "delete", "dev.audit", "dev.polled", "--yes").OK(t, "delete")
	td = topicNames(t, brokers)
	if got := td.Names(); !slices.Equal(got, []string{"dev.orders", "dev.widgets"}) {
		t.Fatalf("topics after delete: %v", got)
	}
	r = run("topic", "delete", "dev.audit", "--yes", "-o", "json")
	var dr []admin.DeleteResult
	json.Unmarshal([]byte(r.Stdout), &dr)
	if r.Code != 1 || len(dr) != 1 || dr[0].Error != "no such topic" {
		t.Fatalf("delete missing: exit %d %s %s", r.Code, r.Stdout, r.Stderr)
	}
}

// Errors name their cause: an unreachable broker is exit 3; a refused
// ACL is exit 2 and names the ACL; a refused login is exit 2.
func TestKafkaErrors(t *testing.T) {
	r := deimos(t, []string{"127.0.0.1:1"}, "topic", "list", "--timeout", "5s")
	if r.Code != 3 || !strings.Contains(r.Stderr, "cannot reach brokers 127.0.0.1:1") {
		t.Fatalf("unreachable: exit %d %q", r.Code, r.Stderr)
	}

	c := testenv.KafkaWith(t, kfake.NumBrokers(1), kfake.EnableSASL(), kfake.EnableACLs(),
		kfake.Superuser("PLAIN", "admin", "admin-secret"),
		kfake.User("PLAIN", "reader", "reader-secret",
			kfake.ACL{Resource: kmsg.ACLResourceTypeTopic, Name: "*", Pattern: kmsg.ACLResourcePatternTypeLiteral, Operation: kmsg.ACLOperationDescribe, Allow: true}),
		kfake.SeedTopics(2, "orders"))
	brokers := c.ListenAddrs()
	dir := t.TempDir()
	conf := func(pass string) {
		writeConfig(t, dir, fmt.Sprintf("kafka:\n  brokers: [%s]\n  sasl: {mechanism: PLAIN, username: reader, password: %s}\n", brokers[0], pass))
	}
	conf("reader-secret")
	run := func(args ...string) testenv.Result { return testenv.Run(t, dir, nil, "", args...) }

	// describing is allowed
	if out := run("topic", "list").OK(t, "list as reader"); !strings.Contains(out, "orders") {
		t.Fatalf("reader list:\n%s", out)
	}
	r = run("topic", "delete", "orders", "--yes")
	if r.Code != 2 || !strings.Contains(r.Stderr, "TOPIC_AUTHORIZATION_FAILED") || !strings.Contains(r.Stderr, "the ACL DELETE on topic orders") {
		t.Fatalf("delete as reader: exit %d %q", r.Code, r.Stderr)
	}
	r = run("topic", "create", "new-topic")
	if r.Code != 2 || !strings.Contains(r.Stderr, "CREATE on topic new-topic") {
		t.Fatalf("create as reader: exit %d %q %q", r.Code, r.Stdout, r.Stderr)
	}
	r = run("group", "describe", "billing")
	if r.Code != 2 || !strings.Contains(r.Stderr, "GROUP_AUTHORIZATION_FAILED") || !strings.Contains(r.Stderr, "DESCRIBE on group billing") {
		t.Fatalf("group describe as reader: exit %d %q", r.Code, r.Stderr)
	}
	conf("wrong-secret")
	// kfake hangs up on a bad login where Kafka answers SASL_AUTHENTICATION_FAILED
	// (exit 2, TestKafkaErrClassification): the message points at the settings
	r = run("topic", "list")
	if r.Code != 3 || !strings.Contains(r.Stderr, "check kafka.sasl") || strings.Contains(r.Stderr, "wrong-secret") {
		t.Fatalf("bad password: exit %d %q", r.Code, r.Stderr)
	}
}
