package produce

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/deimos-cli/deimos/internal/testenv"
	"github.com/deimos-cli/deimos/pkg/config"
	"github.com/deimos-cli/deimos/pkg/encode"
)

// Run encodes JSON lines through the engine's LineEncoder when it takes
// them (fields in schema order) and through Encode otherwise; either way
// each message is what Encode gives for its line, in input order with its
// line number, and the parts of earlier messages (kept by the sink until
// the end, as Kafka keeps them until delivered) are never overwritten.
func TestRunLineEncoderMatchesEncode(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "com", "t"), 0o755); err != nil {
		t.Fatal(err)
	}
	schema := `{"type":"record","name":"Ev","namespace":"com.t","fields":[{"name":"id","type":"long"},{"name":"user","type":"string"},{"name":"amount","type":"double"},{"name":"tags","type":{"type":"array","items":"string"}},{"name":"note","type":["null","string"],"default":null}]}`
	if err := os.WriteFile(filepath.Join(dir, "com", "t", "Ev.avsc"), []byte(schema), 0o644); err != nil {
		t.Fatal(err)
	}
	reg, err := sr.NewClient(sr.URLs(testenv.Registry(t).URL()))
	if err != nil {
		t.Fatal(err)
	}
	cfg := &config.Config{Schema: config.Schema{Path: dir, Backend: "avro_schema_registry", Registry: config.Registry{URL: "unused"}},
		Topics: []config.Topic{{Name: "ev", Schema: "Ev", Namespace: "com.t", KeyConfig: config.KeyConfig{Field: "id"}}}}
	eng, err := encode.New(encode.Options{Config: cfg, Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for i := 0; i < 20000; i++ {
		switch {
		case i%97 == 0: // out of order: Encode's
			lines = append(lines, fmt.Sprintf(`{"user":"u%d","id":%d,"amount":%d.5,"tags":[]}`, i, i, i))
		case i%89 == 0: // an escape: Encode's
			lines = append(lines, fmt.Sprintf(`{"id":%d,"user":"\u00e9%d","amount":1,"tags":["a"],"note":null}`, i, i))
		default:
			lines = append(lines, fmt.Sprintf(`{"id":%d,"user":"user-%07d@example.com","amount":%d.25,"tags":["alpha","beta"],"note":"n%d"}`, i-10000, i, i%1000, i))
		}
	}
	s := &memSink{}
	if _, err := Run(context.Background(), strings.NewReader(strings.Join(lines, "\n")+"\n"), Options{Topic: "ev", Encoder: eng, Partition: -1, Workers: 2}, s); err != nil {
		t.Fatal(err)
	}
	if len(s.outs) != len(lines) {
		t.Fatalf("%d messages for %d lines", len(s.outs), len(lines))
	}
	spec, _ := eng.SpecFor("ev")
	for i, o := range s.outs {
		want, err := eng.Encode(context.Background(), spec, encode.Message{Value: encode.Text(lines[i])})
		if err != nil {
			t.Fatal(err)
		}
		got := encode.Encoded{Topic: o.Topic, Key: o.Key, Value: o.Value, PartitionKey: o.PartitionKey, KeySchemaID: want.KeySchemaID, ValueSchemaID: want.ValueSchemaID}
		if o.Line != i+1 || !reflect.DeepEqual(got, want) {
			t.Fatalf("line %d (message line %d) %s:\nRun    %+v\nEncode %+v", i+1, o.Line, lines[i], got, want)
		}
	}
}
