package outbox_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/deimos-cli/deimos/internal/testenv"
	"github.com/deimos-cli/deimos/pkg/db"
	"github.com/deimos-cli/deimos/pkg/migrate"
	"github.com/deimos-cli/deimos/pkg/outbox"
)

// A message Kafka refuses as too large is dead-lettered with its headers;
// dead-letters list and show print it; requeue refuses while the topic
// still refuses that size, and once the topic accepts it moves the row back
// in one transaction; the relay then delivers it byte for byte: same
// value, key, headers and partition (by its partition key).
func TestDeadLetterRequeuedAndDeliveredByteForByte(t *testing.T) {
	for _, dl := range testenv.Dialects(t) {
		t.Run(dl.Name, func(t *testing.T) { testDeadLetterRequeued(t, dl.URL(t)) })
	}
}

func testDeadLetterRequeued(t *testing.T, url string) {
	ctx := context.Background()
	d, err := db.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := migrate.Up(ctx, d, []string{"outbox", "deadletter", "headers"}); err != nil {
		t.Fatal(err)
	}
	brokers := testenv.Brokers(t, 1)
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	small := "2000"
	for _, topic := range []string{"big", "big2"} {
		if _, err := adm.CreateTopic(ctx, 3, 1, map[string]*string{"max.message.bytes": &small}, topic); err != nil {
			t.Fatal(err)
		}
	}
	payload := make([]byte, 5000)
	for i := range payload {
		payload[i] = byte(i * 7) // not UTF-8
	}
	pk := "customer-17"
	rows := []outbox.Row{
		{Topic: "big", Message: payload, Key: []byte("k1"), PartitionKey: &pk, Headers: map[string]string{"trace": "abc", "schema": "v2"}},
		{Topic: "big", Message: []byte("small"), Key: []byte("k2"), PartitionKey: &pk},
		{Topic: "big2", Message: payload, Key: []byte("k3")},
	}
	if err := outbox.Insert(ctx, d.DB, d.Dialect, rows, time.Now()); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) testenv.Result {
		return testenv.Run(t, "", nil, "", append([]string{"--db", url, "-b", brokers[0]}, args...)...)
	}
	run("outbox", "run", "--once").OK(t, "first relay run")

	var list []struct {
		ID      int64             `json:"id"`
		Topic   string            `json:"topic"`
		Bytes   int               `json:"bytes"`
		Key     string            `json:"key"`
		Headers map[string]string `json:"headers"`
		Error   string            `json:"error"`
	}
	if err := json.Unmarshal([]byte(run("outbox", "dead-letters", "list", "-o", "json").OK(t, "list")), &list); err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 {
		t.Fatalf("dead letters: %+v", list)
	}
	if list[0].Topic != "big" {
		list[0], list[1] = list[1], list[0]
	}
	if dl := list[0]; dl.Topic != "big" || dl.Bytes != 5000 || dl.Key != "k1" || dl.Headers["trace"] != "abc" || !strings.Contains(dl.Error, "MESSAGE_TOO_LARGE") {
		t.Fatalf("dead letters: %+v", list)
	}
	id := fmt.Sprint(list[0].ID)
	text := run("outbox", "dead-letters", "list", "--topic", "big").OK(t, "list text")
	if !strings.Contains(text, "ID") || !strings.Contains(text, "big ") || strings.Contains(text, "big2") {
		t.Errorf("list --topic big:\n%s", text)
	}
	var shown struct {
		Message         string `json:"message"`
		MessageEncoding string `json:"message_encoding"`
		PartitionKey    string `json:"partition_key"`
	}
	if err := json.Unmarshal([]byte(run("outbox", "dead-letters", "show", id, "-o", "json").OK(t, "show")), &shown); err != nil {
		t.Fatal(err)
	}
	if b, _ := base64.StdEncoding.DecodeString(shown.Message); !bytes.Equal(b, payload) || shown.MessageEncoding != "base64" || shown.PartitionKey != pk {
		t.Fatalf("show: %d bytes, encoding %s, partition key %q", len(b), shown.MessageEncoding, shown.PartitionKey)
	}

	// still too large for the topic: refused, nothing moved
	r := run("outbox", "dead-letters", "requeue", id)
	if r.Code != 1 || !strings.Contains(r.Stderr, "id "+id+": ") || !strings.Contains(r.Stderr, "over the 2000-byte limit (topic big max.message.bytes)") {
		t.Fatalf("requeue of a row still too large: exit %d\n%s", r.Code, r.Stderr)
	}
	if n := count(t, d, "SELECT COUNT(*) FROM kafka_messages"); n != 0 {
		t.Fatalf("%d rows requeued although refused", n)
	}
	if r := run("outbox", "dead-letters", "requeue", id, "--max-message-bytes", "100"); r.Code != 1 {
		t.Fatalf("--max-message-bytes 100: exit %d %s", r.Code, r.Stderr)
	}

	big := "10000"
	if _, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Name: "max.message.bytes", Value: &big}}, "big"); err != nil {
		t.Fatal(err)
	}
	if out := run("outbox", "dead-letters", "requeue", id).OK(t, "requeue"); !strings.Contains(out, "requeued 1 dead letter(s): ids "+id) {
		t.Fatalf("requeue: %s", out)
	}
	if n := count(t, d, "SELECT COUNT(*) FROM deimos_dead_letters WHERE topic = 'big'"); n != 0 {
		t.Fatalf("%d dead letters left for big", n)
	}
	var msg, key []byte
	var gotPK, hdr string
	if err := d.QueryRowContext(ctx, "SELECT message, "+d.Q("key")+", partition_key, headers FROM kafka_messages").Scan(&msg, &key, &gotPK, &hdr); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(msg, payload) || string(key) != "k1" || gotPK != pk || hdr != `{"schema":"v2","trace":"abc"}` {
		t.Fatalf("requeued row: %d bytes, key %q, partition key %q, headers %s", len(msg), key, gotPK, hdr)
	}
	run("outbox", "run", "--once").OK(t, "relay after requeue")

	recs := map[string]*kgo.Record{}
	cons, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics("big"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxBytes(1<<20))
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	pctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	for len(recs) < 2 && pctx.Err() == nil {
		cons.PollFetches(pctx).EachRecord(func(r *kgo.Record) { recs[string(r.Key)] = r })
	}
	got, control := recs["k1"], recs["k2"]
	if got == nil || control == nil {
		t.Fatalf("records on big: %v", recs)
	}
	if !bytes.Equal(got.Value, payload) {
		t.Fatalf("delivered value differs: %d bytes", len(got.Value))
	}
	hs := map[string]string{}
	for _, h := range got.Headers {
		hs[h.Key] = string(h.Value)
	}
	if fmt.Sprint(hs) != "map[schema:v2 trace:abc]" || got.Partition != control.Partition {
		t.Fatalf("headers %v, partition %d (the row with the same partition key went to %d)", hs, got.Partition, control.Partition)
	}

	// delete: needs --yes; --dry-run and filters
	if r := run("outbox", "dead-letters", "delete", "--topic", "big2"); r.Code != 2 || !strings.Contains(r.Stderr, "--yes") {
		t.Fatalf("delete without --yes: exit %d %s", r.Code, r.Stderr)
	}
	if r := run("outbox", "dead-letters", "requeue"); r.Code != 2 || !strings.Contains(r.Stderr, "--all") {
		t.Fatalf("requeue without a selection: exit %d %s", r.Code, r.Stderr)
	}
	if out := run("outbox", "dead-letters", "delete", "--topic", "big2", "--newer-than", "1h", "--dry-run").OK(t, "dry run"); !strings.Contains(out, "would delete 1 dead letter(s)") {
		t.Fatalf("dry run: %s", out)
	}
	if out := run("outbox", "dead-letters", "delete", "--topic", "big2", "--older-than", "1h", "--yes").OK(t, "older"); !strings.Contains(out, "deleted 0 dead letters") {
		t.Fatalf("--older-than 1h matched a fresh row: %s", out)
	}
	var del struct {
		Count int     `json:"count"`
		IDs   []int64 `json:"ids"`
	}
	if err := json.Unmarshal([]byte(run("outbox", "dead-letters", "delete", "--topic", "big2", "--yes", "-o", "json").OK(t, "delete")), &del); err != nil || del.Count != 1 {
		t.Fatalf("delete: %+v %v", del, err)
	}
	if n := count(t, d, "SELECT COUNT(*) FROM deimos_dead_letters"); n != 0 {
		t.Fatalf("%d dead letters left", n)
	}
}

func count(t *testing.T, d *db.DB, q string) int {
	t.Helper()
	var n int
	if err := d.QueryRowContext(context.Background(), q).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
