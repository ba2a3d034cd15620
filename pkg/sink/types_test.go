package sink

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/deimos-cli/deimos/pkg/db"
)

// TestBinaryJSONAndTimeColumns: each kind of column gets what a Rails app
// would store there, on every database. A binary column (bytea, blob) gets
// a text field's bytes as they are, and an array of byte values (how decoded
// Avro bytes that are not UTF-8 arrive) as those bytes; a json column gets
// objects and arrays as JSON; a datetime column gets epoch seconds and RFC
// 3339 times with any offset as UTC wall time.
func TestBinaryJSONAndTimeColumns(t *testing.T) {
	dbs(t, func(t *testing.T, d *db.DB) {
		types := map[string][3]string{ // binary, json, datetime
			"sqlite":   {"blob", "text", "datetime"},
			"postgres": {"bytea", "json", "timestamp(6)"},
			"mysql":    {"blob", "json", "datetime(6)"},
		}[d.Dialect.Name()]
		exec(t, d, `CREATE TABLE bjt (id bigint PRIMARY KEY, raw `+types[0]+`, doc `+types[1]+`, at `+types[2]+`)`)
		now := time.Now()
		s := newSink(t, d, Options{Table: "bjt"}, &now)
		err := s.Handle(context.Background(), batch(
			rec{`1`, `{"raw":"h\u00e9llo \\ 'q' \"d\"","doc":{"a":[1,2],"s":"x'y"},"at":86400}`},
			rec{`2`, `{"raw":[0,255,16,92,39],"doc":[1,"x"],"at":"2024-01-02T05:04:05.25+02:00"}`},
			rec{`3`, `{"raw":null,"doc":null,"at":"2024-03-04T05:06:07Z"}`},
			rec{`4`, `{"raw":[1,300],"doc":"\"str\""}`},
		))
		if err != nil {
			t.Fatal(err)
		}
		rows, err := d.Query("SELECT id, raw, doc, at FROM bjt ORDER BY id")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		type got struct {
			raw []byte
			doc any
			at  string
		}
		var out []got
		for rows.Next() {
			var id int64
			var raw []byte
			var doc, at any
			if err := rows.Scan(&id, &raw, &doc, &at); err != nil {
				t.Fatal(err)
			}
			g := got{raw: raw}
			if b, ok := doc.([]byte); ok {
				doc = string(b)
			}
			if sd, ok := doc.(string); ok {
				if err := json.Unmarshal([]byte(sd), &g.doc); err != nil {
					t.Fatalf("row %d: doc %q is not JSON", id, sd)
				}
			}
			switch x := at.(type) {
			case time.Time:
				g.at = x.UTC().Format("2006-01-02 15:04:05.000")
			case string:
				g.at = x[:min(len(x), 23)]
			case []byte:
				g.at = string(x)[:min(len(x), 23)]
			}
			out = append(out, g)
		}
		want := []got{
			{[]byte("héllo \\ 'q' \"d\""), map[string]any{"a": []any{1.0, 2.0}, "s": "x'y"}, "1970-01-02 00:00:00.000"},
			{[]byte{0, 255, 16, 92, 39}, []any{1.0, "x"}, "2024-01-02 03:04:05.250"},
			{nil, nil, "2024-03-04 05:06:07.000"},
			{[]byte("[1,300]"), "str", ""}, // not byte values: kept as JSON text
		}
		if !reflect.DeepEqual(out, want) {
			t.Fatalf("rows:\n got %#v\nwant %#v", out, want)
		}
	})
}
