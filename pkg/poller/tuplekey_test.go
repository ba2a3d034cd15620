package poller

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/deimos-cli/deimos/internal/testenv"
	"github.com/deimos-cli/deimos/pkg/config"
	"github.com/deimos-cli/deimos/pkg/encode"
	"github.com/deimos-cli/deimos/pkg/outbox"
)

// TestMultiFieldKeysStayApart: rows whose key-schema fields join to the same
// text — (id 1, state "12") and (id 11, state "2") — are published through the
// outbox backend with two different keys, each decoding to its own row, and
// the relay's compaction keeps both.
func TestMultiFieldKeysStayApart(t *testing.T) {
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
		t.Run(dl.Name, func(t *testing.T) {
			e := newEnv(t, dl.Name)
			e.cfg.Schema = config.Schema{Backend: "avro_local", Path: dir}
			e.cfg.Topics = []config.Topic{{Name: "widgets", Backend: "avro_local", Schema: "Widget", Namespace: "com.example", KeyConfig: config.KeyConfig{Schema: "WidgetKey"}}}
			enc, err := encode.New(encode.Options{Config: e.cfg})
			if err != nil {
				t.Fatal(err)
			}
			e.enc = enc
			e.createWidgets()
			old := time.Now().UTC().Add(-time.Hour)
			e.insert(1, "one", old)
			e.insert(11, "eleven", old.Add(time.Second))
			e.exec("UPDATE widgets SET state = '12' WHERE id = 1")
			e.exec("UPDATE widgets SET state = '2' WHERE id = 11")
			e.runOnce(e.settings(func(s *Settings) { s.Backend = "outbox" }), func(o *Options) { o.Kafka = nil })
			rows, err := e.d.Query("SELECT id, " + e.d.Q("key") + " FROM kafka_messages ORDER BY id")
			if err != nil {
				t.Fatal(err)
			}
			var ms []outbox.Message
			for rows.Next() {
				var m outbox.Message
				if err := rows.Scan(&m.ID, &m.Key); err != nil {
					t.Fatal(err)
				}
				ms = append(ms, m)
			}
			rows.Close()
			if len(ms) != 2 || bytes.Equal(ms[0].Key, ms[1].Key) {
				t.Fatalf("kafka_messages rows %+v, want two with different keys", ms)
			}
			spec, _ := enc.SpecFor("widgets")
			want := []map[string]any{{"id": 1.0, "state": "12"}, {"id": 11.0, "state": "2"}}
			for i, m := range ms {
				dec, err := enc.Decode(context.Background(), spec, m.Key, nil)
				if err != nil {
					t.Fatal(err)
				}
				var k map[string]any
				if err := json.Unmarshal(dec.Key, &k); err != nil || !reflect.DeepEqual(k, want[i]) {
					t.Fatalf("key %d = %s, want %v", i, dec.Key, want[i])
				}
			}
			if got := outbox.Compact(ms); len(got) != 2 {
				t.Fatalf("outbox compaction kept %d of the 2 messages", len(got))
			}
		})
	}
}
