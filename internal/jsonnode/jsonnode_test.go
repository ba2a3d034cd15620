package jsonnode

import (
	"encoding/json"
	"math/rand"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestNodeScannerMatchesDecoder: the fast reader of valid documents builds
// exactly the tree encoding/json's decoder path builds (offsets, unquoted
// strings, number text, repeated keys), on the repository's schema files
// and on generated documents with escapes, non-ASCII and invalid UTF-8
// bytes, odd whitespace and repeated keys.
func TestNodeScannerMatchesDecoder(t *testing.T) {
	var docs [][]byte
	for _, root := range []string{"../../testdata", "../../examples"} {
		_ = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() && d.Name() == "node_modules" {
				return filepath.SkipDir
			}
			if ext := filepath.Ext(p); !d.IsDir() && (ext == ".json" || ext == ".avsc") {
				if b, err := os.ReadFile(p); err == nil {
					docs = append(docs, b)
				}
			}
			return nil
		})
	}
	if len(docs) < 5 {
		t.Fatalf("found only %d schema files in testdata", len(docs))
	}
	docs = append(docs,
		[]byte(`{"a":1,"a":{"b":[]},"c":"x\u00e9\ud83d\ude00\n\"","d":-0.5e+10,"e":[true,false,null,{}]}`),
		[]byte("  \r\n\t[ 1 , \"\xff\xfe\" , \"caf\xc3\xa9\" , \"\\/\\b\\f\\r\\t\" ]  \n"),
		[]byte(`"just a string"`), []byte(`12`), []byte(`null`), []byte(`{}`), []byte(`[]`),
		[]byte(`{"\u0000k":"\ud800"}`),
	)
	rnd := rand.New(rand.NewSource(1))
	for i := 0; i < 300; i++ {
		docs = append(docs, []byte(randomJSON(rnd, 0)))
	}
	for i, d := range docs {
		if !json.Valid(d) {
			t.Fatalf("doc %d is not valid JSON: %q", i, d)
		}
		s := nodeScanner{data: d}
		got := s.value()
		want, err := decodeJSONNodes(d)
		if err != nil {
			t.Fatalf("doc %d: decoder: %v", i, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("doc %d: scanner and decoder disagree on %q", i, d)
		}
	}
	// Invalid documents keep the decoder's messages.
	for _, bad := range []string{"{\"a\":", "{\"a\" 1}", "[1,]", "{} {}", "", "01", "\"\x01\""} {
		_, err1 := Parse([]byte(bad))
		_, err2 := decodeJSONNodes([]byte(bad))
		if err1 == nil || err2 == nil || err1.Error() != err2.Error() {
			t.Fatalf("%q: %v vs %v", bad, err1, err2)
		}
	}
}

func randomJSON(r *rand.Rand, depth int) string {
	ws := func() string { return []string{"", " ", "\n  ", "\t", "\r\n"}[r.Intn(5)] }
	k := r.Intn(8)
	if depth > 4 {
		k = 2 + r.Intn(6)
	}
	switch k {
	case 0:
		var parts []string
		n := r.Intn(5)
		for i := 0; i < n; i++ {
			parts = append(parts, ws()+randomString(r)+ws()+":"+ws()+randomJSON(r, depth+1)+ws())
		}
		return "{" + strings.Join(parts, ",") + ws() + "}"
	case 1:
		var parts []string
		n := r.Intn(5)
		for i := 0; i < n; i++ {
			parts = append(parts, ws()+randomJSON(r, depth+1)+ws())
		}
		return "[" + strings.Join(parts, ",") + ws() + "]"
	case 2, 3:
		return randomString(r)
	case 4:
		return []string{"0", "-1", "12.5", "1e3", "-0.25E-7", "123456789012345678901234567890", "3.0"}[r.Intn(7)]
	case 5:
		return "true"
	case 6:
		return "false"
	}
	return "null"
}

func randomString(r *rand.Rand) string {
	pieces := []string{"a", "name", "é", "😀", `\n`, `\"`, `\\`, `\u00e9`, `\ud83d\ude00`, `\ud800`, "\xff", "\xc3", `\/`, " ", "type", "fields"}
	var b strings.Builder
	b.WriteByte('"')
	n := r.Intn(6)
	for i := 0; i < n; i++ {
		b.WriteString(pieces[r.Intn(len(pieces))])
	}
	b.WriteByte('"')
	return b.String()
}
