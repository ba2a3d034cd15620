package config

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/deimos-cli/deimos/pkg/errs"
)

func usageErr(t *testing.T, err error, want string) {
	t.Helper()
	if errs.ExitCode(err) != errs.CodeUsage || !strings.Contains(err.Error(), want) {
		t.Fatalf("err %v (exit %d), want a usage error with %q", err, errs.ExitCode(err), want)
	}
}

func TestResolveConsumer(t *testing.T) {
	three, no, seven := 3, false, 7
	cfg := &Config{Source: "app.yaml", Consumers: []Consumer{
		{Name: "w", Group: "g", Sink: "table:widgets", KeyColumns: StringList{"code"}, Compacted: &no, Exec: "./h.sh",
			Checkpoint: true, MaxRetries: &three, PassEnv: StringList{"A"}, EntityIDField: "id", SkipExitCode: &seven},
		{Name: "bad", Sink: "kafka:x"},
		{Name: "plain", Sink: "table:p"},
	}}
	r, err := ResolveConsumer(cfg, ConsumerFlags{Consumer: "w", Group: "g", SkipExitCode: 99, MaxRetries: -1, PassEnv: []string{"B"}}, ConsumerChecks{})
	if err != nil {
		t.Fatal(err)
	}
	if r.Name != "w" || r.Table != "widgets" || r.KeyColumns[0] != "code" || !r.NoCompact || r.Exec != "./h.sh" || !r.Checkpoint ||
		*r.MaxRetries != 3 || r.SkipExitCode != 7 || r.Fields.EntityID != "id" || strings.Join(r.PassEnv, ",") != "A,B" || r.Group != "g" {
		t.Fatalf("from the entry: %+v", r)
	}
	// flags that were given beat the entry
	r, err = ResolveConsumer(cfg, ConsumerFlags{Consumer: "w", Group: "g", Sink: "table:t2", KeyColumns: nil, KeyColumnsSet: true,
		SkipExitCode: 5, SkipExitCodeSet: true, MaxRetries: -1, MaxRetriesSet: true, Exec: "./other",
		Mapping: []string{"full_name=name"}, Fields: ConsumerFields{EntityID: "uid"}, HandlerTimeout: time.Second}, ConsumerChecks{})
	if err != nil || r.Table != "t2" || r.KeyColumns != nil || r.SkipExitCode != 5 || r.MaxRetries != nil || r.Exec != "./other" ||
		r.Mapping["full_name"] != "name" || r.Fields.EntityID != "uid" || r.Timeout != time.Second {
		t.Fatalf("flags over the entry: %+v %v", r, err)
	}
	// flags alone
	r, err = ResolveConsumer(cfg, ConsumerFlags{Sink: "table:x", SkipExitCode: 99, MaxRetries: 2, KeyColumns: []string{"k"}}, ConsumerChecks{})
	if err != nil || r.Name != "" || r.Table != "x" || *r.MaxRetries != 2 || r.SkipExitCode != 99 || r.KeyColumns[0] != "k" {
		t.Fatalf("flags alone: %+v %v", r, err)
	}
	// the engines' checks are called with what was resolved
	var gotExec, gotTable string
	chk := ConsumerChecks{
		Exec: func(c string, env []string) error {
			gotExec = c + " " + strings.Join(env, ",")
			return errors.New("no shell")
		},
		Table: func(n string) error { gotTable = n; return errors.New("bad name") },
	}
	_, err = ResolveConsumer(cfg, ConsumerFlags{Consumer: "w", Group: "g", MaxRetries: -1}, chk)
	usageErr(t, err, "--exec: no shell")
	if gotExec != "./h.sh A" {
		t.Errorf("exec check got %q", gotExec)
	}
	_, err = ResolveConsumer(cfg, ConsumerFlags{Consumer: "plain", MaxRetries: -1}, chk)
	usageErr(t, err, "table sink: bad name")
	if gotTable != "p" {
		t.Errorf("table check got %q", gotTable)
	}

	for _, tc := range []struct {
		name string
		fl   ConsumerFlags
		want string
	}{
		{"unknown entry", ConsumerFlags{Consumer: "nope"}, `--consumer "nope": no such entry in consumers: of app.yaml`},
		{"entry sink", ConsumerFlags{Consumer: "bad"}, `consumers[bad].sink: "kafka:x" is not table:NAME`},
		{"other group", ConsumerFlags{Consumer: "w", Group: "h"}, "-g h differs from consumers[w].group g"},
		{"no group", ConsumerFlags{Consumer: "w"}, "pass -g g"},
		{"sink word", ConsumerFlags{Sink: "kafka:x"}, "use table:NAME"},
		{"map", ConsumerFlags{Mapping: []string{"nofield"}}, "COLUMN=FIELD"},
		{"max retries", ConsumerFlags{MaxRetries: -2}, "0 or more (-1: retry forever)"},
		{"checkpoint without exec", ConsumerFlags{Checkpoint: true, MaxRetries: -1}, "needs a handler command"},
		{"checkpoint without group", ConsumerFlags{Checkpoint: true, Exec: "x", MaxRetries: -1}, "needs a consumer group"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ResolveConsumer(cfg, tc.fl, ConsumerChecks{})
			usageErr(t, err, tc.want)
		})
	}
	if _, err := (&Config{}).ConsumerNamed("x"); err == nil || !strings.Contains(err.Error(), "of the config") {
		t.Errorf("ConsumerNamed without a file: %v", err)
	}
}

func TestOutboxWithFlags(t *testing.T) {
	cfgd := Outbox{Workers: 2, BatchSize: 500, MetricsAddr: ":1", CompactTopics: TopicMatch{Topics: []string{"a"}}, DeliveryTimeout: Duration(time.Minute)}
	o, err := cfgd.WithFlags(OutboxFlags{DeliveryTimeout: 30 * time.Second})
	if err != nil || o.Workers != 2 || o.BatchSize != 500 || o.MetricsAddr != ":1" || o.CompactTopics.All || o.DeliveryTimeout.D() != time.Minute {
		t.Fatalf("no flags: %+v %v", o, err)
	}
	four, ten, all, addr := 4, 10, "all", ":2"
	o, err = cfgd.WithFlags(OutboxFlags{Workers: &four, BatchSize: &ten, CompactTopics: &all, MetricsAddr: &addr, DeliveryTimeout: time.Second, DeliveryTimeoutSet: true})
	if err != nil || o.Workers != 4 || o.BatchSize != 10 || !o.CompactTopics.All || o.MetricsAddr != ":2" || o.DeliveryTimeout.D() != time.Second {
		t.Fatalf("flags: %+v %v", o, err)
	}
	if o, _ := (Outbox{Workers: 1, BatchSize: 1}).WithFlags(OutboxFlags{DeliveryTimeout: 30 * time.Second}); o.DeliveryTimeout.D() != 30*time.Second {
		t.Errorf("unset delivery timeout takes the flag's default: %v", o.DeliveryTimeout.D())
	}
	zero := 0
	_, err = cfgd.WithFlags(OutboxFlags{Workers: &zero})
	usageErr(t, err, "--workers: must be at least 1 (got 0)")
	_, err = cfgd.WithFlags(OutboxFlags{BatchSize: &zero})
	usageErr(t, err, "--batch-size: must be at least 1 (got 0)")
}

func TestApplyProducerFlags(t *testing.T) {
	c := &Config{Producers: Producers{Backend: "outbox"}, Kafka: Kafka{Partitioner: "crc32"}}
	if b, err := c.ApplyProducerFlags(ProducerFlags{}); err != nil || b != "outbox" || c.Kafka.Partitioner != "crc32" || c.Schema.Normalize {
		t.Fatalf("no flags: %q %v %+v", b, err, c)
	}
	if b, err := c.ApplyProducerFlags(ProducerFlags{Backend: "kafka", Partitioner: "murmur2", Normalize: true}); err != nil || b != "kafka" ||
		c.Kafka.Partitioner != "murmur2" || !c.Schema.Normalize {
		t.Fatalf("flags: %q %v %+v", b, err, c)
	}
	_, err := c.ApplyProducerFlags(ProducerFlags{Backend: "db"})
	usageErr(t, err, `--backend "db": use kafka or outbox`)
}

func TestApplySchemaFlags(t *testing.T) {
	c := &Config{Schema: Schema{Backend: "avro_local"}}
	if b := c.ApplySchemaFlags(SchemaFlags{}); b != "avro_local" || c.Schema.Normalize {
		t.Fatalf("no flags: %q %+v", b, c.Schema)
	}
	if b := c.ApplySchemaFlags(SchemaFlags{Backend: "proto_local", Normalize: true}); b != "proto_local" || !c.Schema.Normalize || c.Schema.Backend != "avro_local" {
		t.Fatalf("flags: %q %+v", b, c.Schema)
	}
}
