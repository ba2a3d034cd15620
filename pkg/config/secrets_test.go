package config

import (
	"strings"
	"testing"
)

// A value under the wrong key is a type error that names the line, never
// the value: it may be a password (yaml.v3 quotes it, shortened).
func TestTypeErrorsDoNotQuoteValues(t *testing.T) {
	for _, doc := range []string{
		"kafka:\n  sasl: pw-SECRET\n",
		"database: \"postgres://u:pw-SECRET@h/db\"\n",
		"schema:\n  registry: tok-SECRET\n",
	} {
		var c Config
		err := Parse([]byte(doc), "deimos.yaml", func(string) (string, bool) { return "", false }, &c)
		if err == nil {
			t.Fatalf("%q: no error", doc)
		}
		if strings.Contains(err.Error(), "SEC") || strings.Contains(err.Error(), "pw-") || strings.Contains(err.Error(), "tok-") {
			t.Fatalf("%q: error quotes the value: %v", doc, err)
		}
		if !strings.Contains(err.Error(), "line ") {
			t.Fatalf("%q: error does not name the line: %v", doc, err)
		}
	}
}
