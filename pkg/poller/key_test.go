package poller

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/deimos-cli/deimos/internal/testenv"
	"github.com/deimos-cli/deimos/pkg/config"
	"github.com/deimos-cli/deimos/pkg/encode"
)

const (
	keyTestValueSchema = `{"type":"record","name":"Widget","namespace":"com.example","fields":[
 {"name":"id","type":"long"},{"name":"name","type":"string"},{"name":"price","type":"long"}]}`
	// state is a column but NOT a field of the value schema: the key must
	// still carry it, and must not carry name/price.
	keyTestKeySchema = `{"type":"record","name":"WidgetKey","namespace":"com.example","fields":[
 {"name":"id","type":"long"},{"name":"state","type":"string"}]}`
)

// rawRecords reads every record of the topic so far (key and value bytes).
func (e *env) rawRecords(topic string, want int) []*kgo.Record {
	e.t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.brokers...), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		e.t.Fatal(err)
	}
	defer cl.Close()
	var out []*kgo.Record
	deadline := time.Now().Add(10 * time.Second)
	for len(out) < want && time.Now().Before(deadline) {
		ctx, cancel := context.WithDeadline(context.Background(), deadline)
		fs := cl.PollFetches(ctx)
		cancel()
		fs.EachRecord(func(r *kgo.Record) { out = append(out, r) })
	}
	return out
}

// The poller's key per key_config with an Avro backend: schema (the key
// schema's fields taken from the row, even a column that is not a value
// field; no other column), plain (the id column's value), none (no key),
// field (the generated key record), schema: long (an Avro primitive key
// schema: the id column's value). Keys and values are decoded with the
// encode engine.
func TestKeyConfigModes(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "com", "example"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, text := range map[string]string{"Widget": keyTestValueSchema, "WidgetKey": keyTestKeySchema} {
		if err := os.WriteFile(filepath.Join(dir, "com", "example", name+".avsc"), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, dl := range testenv.Dialects(t) {
		dialect := dl.Name
		for _, kc := range []config.KeyConfig{{Schema: "WidgetKey"}, {Schema: "long"}, {Plain: true}, {None: true}, {Field: "id"}} {
			name := kc.Mode()
			if kc.Primitive() != "" {
				name = "schema-" + kc.Primitive()
			}
			t.Run(dialect+"/"+name, func(t *testing.T) {
				e := newEnv(t, dialect)
				e.cfg.Schema = config.Schema{Backend: "avro_local", Path: dir}
				e.cfg.Topics = []config.Topic{{Name: "widgets", Backend: "avro_local", Schema: "Widget", Namespace: "com.example", KeyConfig: kc}}
				enc, err := encode.New(encode.Options{Config: e.cfg})
				if err != nil {
					t.Fatal(err)
				}
				e.enc = enc
				e.createWidgets()
				old := time.Now().UTC().Add(-time.Hour)
				for i := 1; i <= 3; i++ {
					e.insert(i, "w"+string(rune('0'+i)), old.Add(time.Duration(i)*time.Second))
					e.exec("UPDATE widgets SET state = ? WHERE id = ?", "s"+string(rune('0'+i)), i)
				}
				e.runOnce(e.settings())
				recs := e.rawRecords("widgets", 3)
				if len(recs) != 3 {
					t.Fatalf("%d records published, want 3", len(recs))
				}
				spec, _ := enc.SpecFor("widgets")
				seen := map[float64]bool{}
				for _, r := range recs {
					dec, err := enc.Decode(context.Background(), spec, r.Key, r.Value)
					if err != nil {
						t.Fatalf("decode key %x value %x: %v", r.Key, r.Value, err)
					}
					var val map[string]any
					if err := json.Unmarshal(dec.Value, &val); err != nil {
						t.Fatalf("value %s: %v", dec.Value, err)
					}
					id, _ := val["id"].(float64)
					seen[id] = true
					n := int(id)
					wantVal := map[string]any{"id": id, "name": "w" + string(rune('0'+n)), "price": float64(n * 10)}
					if !reflect.DeepEqual(val, wantVal) {
						t.Fatalf("value %v, want %v", val, wantVal)
					}
					switch name {
					case "schema-long": // a primitive key schema: the id column's value
						if string(dec.Key) != string(rune('0'+n)) || dec.KeyFormat.Schema != "" && dec.KeyFormat.Schema != "long" {
							t.Fatalf("long key %s (%+v), want %d", dec.Key, dec.KeyFormat, n)
						}
					case "schema":
						var key map[string]any
						if err := json.Unmarshal(dec.Key, &key); err != nil {
							t.Fatalf("key %s: %v", dec.Key, err)
						}
						want := map[string]any{"id": id, "state": "s" + string(rune('0'+n))}
						if !reflect.DeepEqual(key, want) {
							t.Fatalf("key %v (%s), want the key schema's fields of the row %v", key, dec.Key, want)
						}
					case "plain":
						if string(r.Key) != string(rune('0'+n)) {
							t.Fatalf("plain key %q, want the id %d", r.Key, n)
						}
					case "none":
						if r.Key != nil {
							t.Fatalf("key %q with key_config none", r.Key)
						}
					case "field":
						if string(dec.Key) != string(rune('0'+n)) {
							t.Fatalf("field key %s, want %d", dec.Key, n)
						}
					}
				}
				if len(seen) != 3 {
					t.Fatalf("ids published: %v", seen)
				}
			})
		}
	}
}
