package consume

import (
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/deimos-cli/deimos/pkg/config"
)

func TestResolveSinkSettings(t *testing.T) {
	three, f := 3, false
	cfg := &config.Config{Consumers: []config.Consumer{{Name: "w", Group: "g", Sink: "table:widgets", KeyColumns: []string{"code"},
		Compacted: &f, Exec: "./h.sh", Checkpoint: true, MaxRetries: &three, EntityIDField: "id"}}}
	parse := func(args ...string) (config.ResolvedConsumer, error) {
		c := &cobra.Command{Use: "x"}
		var o sinkOptions
		addSinkFlags(c, &o)
		if err := c.ParseFlags(args); err != nil {
			t.Fatal(err)
		}
		return resolve(o.cmd, cfg, &o, "g")
	}
	r, err := parse("--consumer", "w")
	if err != nil {
		t.Fatal(err)
	}
	if r.Table != "widgets" || r.KeyColumns[0] != "code" || !r.NoCompact || r.Exec != "./h.sh" || !r.Checkpoint || *r.MaxRetries != 3 || r.Fields.EntityID != "id" || r.SkipExitCode != 99 || r.Group != "g" {
		t.Fatalf("from config: %+v", r)
	}
	r, err = parse("--consumer", "w", "--max-retries", "-1", "--skip-exit-code", "5", "--map", "full_name=name")
	if err != nil || r.MaxRetries != nil || r.SkipExitCode != 5 || r.Mapping["full_name"] != "name" {
		t.Fatalf("overrides: %+v %v", r, err)
	}
	for args, want := range map[string]string{
		"--consumer nope":  "no such entry",
		"--sink kafka:x":   "use table:NAME",
		"--sink table:a;b": "invalid SQL name",
		"--exec true --checkpoint --max-retries -2": "0 or more",
		"--checkpoint":  "needs a handler command",
		"--map nofield": "COLUMN=FIELD",
	} {
		if _, err := parse(strings.Fields(args)...); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v, want %q", args, err, want)
		}
	}
}

func TestConsumerDefaultsFromConfig(t *testing.T) {
	cfg := &config.Config{Consumers: []config.Consumer{{Name: "widgets", Topics: config.StringList{"a", "b"}, Group: "g1"}}}
	topics, group, err := consumerDefaults(cfg, &sinkOptions{consumer: "widgets"})
	if err != nil || strings.Join(topics, ",") != "a,b" || group != "g1" {
		t.Fatalf("got %v %q %v", topics, group, err)
	}
	if _, _, err := consumerDefaults(cfg, &sinkOptions{consumer: "nope"}); err == nil {
		t.Fatal("an unknown consumer must be an error")
	}
	if topics, group, err := consumerDefaults(cfg, &sinkOptions{}); err != nil || topics != nil || group != "" {
		t.Fatal("without --consumer there are no defaults")
	}
}
