package consume

import (
	"testing"

	"github.com/spf13/cobra"

	"github.com/deimos-cli/deimos/pkg/config"
)

func TestResolveSkipBadRows(t *testing.T) {
	cfg := &config.Config{Consumers: []config.Consumer{{Name: "on", Sink: "table:w", SkipBadRows: true}, {Name: "off", Sink: "table:w"}}}
	for _, tc := range []struct {
		args []string
		want bool
	}{
		{[]string{"--sink", "table:w"}, false},
		{[]string{"--sink", "table:w", "--skip-bad-rows"}, true},
		{[]string{"--consumer", "on"}, true},
		{[]string{"--consumer", "off"}, false},
		{[]string{"--consumer", "off", "--skip-bad-rows"}, true},
	} {
		c := &cobra.Command{Use: "x"}
		var o sinkOptions
		addSinkFlags(c, &o)
		if err := c.ParseFlags(tc.args); err != nil {
			t.Fatal(err)
		}
		r, err := resolve(o.cmd, cfg, &o, "")
		if err != nil || r.SkipBadRows != tc.want {
			t.Errorf("%v: skipBad = %v (err %v), want %v", tc.args, r.SkipBadRows, err, tc.want)
		}
	}
	var parsed config.Config
	yml := "consumers:\n  - name: x\n    sink: table:w\n    skip_bad_rows: true\n"
	if err := config.Parse([]byte(yml), "deimos.yaml", func(string) (string, bool) { return "", false }, &parsed); err != nil ||
		len(parsed.Consumers) != 1 || !parsed.Consumers[0].SkipBadRows {
		t.Errorf("yaml: %+v %v", parsed.Consumers, err)
	}
}
