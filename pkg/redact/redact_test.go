package redact

import (
	"strings"
	"testing"
)

// Every spelling of a connection string that carries SECRET prints without
// it, and without the raw text when it cannot be parsed.
func TestDSNNeverShowsTheSecret(t *testing.T) {
	tests := []struct{ raw, want string }{
		{"postgres://u:SECRET@host/db", "postgres://u:xxxxx@host/db"},
		{"postgresql://u:SECRET@host:5432/db?sslmode=disable", "postgresql://u:xxxxx@host:5432/db?sslmode=disable"},
		{"postgres://u:p%23SECRET@host/db", "postgres://u:xxxxx@host/db"},
		{"postgres://u@host/db?password=SECRET&sslmode=disable", "postgres://u@host/db?password=xxxxx&sslmode=disable"},
		{"postgres://u@host/db?sslpassword=SECRET", "postgres://u@host/db?sslpassword=xxxxx"},
		{"postgres://u:p#SECRET@host/db", "<unparseable postgres URL>"},
		{"postgres://u:p/SECRET@host/db", "<unparseable postgres URL>"},
		{"postgres://u:p?SECRET@host/db", "<unparseable postgres URL>"},
		{"postgres://u:p SECRET@host/db", "<unparseable postgres URL>"},
		{"postgres://u:p%zzSECRET@host/db", "<unparseable postgres URL>"},
		{"postgres://u:123/SECRET@host/db", "<unparseable postgres URL>"}, // parses, but '@' after the host
		{"postgres://u:123#SECRET@host/db", "<unparseable postgres URL>"},
		{"postgres://u:p@SECRET@host/db", "postgres://u:xxxxx@host/db"},
		{"http://u:p/SECRET@host", "<unparseable http URL>"},
		{"https://u:SECRET@sr.example:8081", "https://u:xxxxx@sr.example:8081"},
		{"mysql://u:SECRET@db:3306/app", "mysql://u:xxxxx@db:3306/app"},
		{"host=127.0.0.1 password=SECRET dbname=app", "host=127.0.0.1 password=xxxxx dbname=app"},
		{"host=127.0.0.1 password = SECRET dbname=app", "host=127.0.0.1 password = xxxxx dbname=app"},
		{"host=h password='a SECRET b' dbname=app", "host=h password=xxxxx dbname=app"},
		{`host=h password='it\'s SECRET' dbname=app`, "host=h password=xxxxx dbname=app"},
		{"host=h password='unterminated SECRET", "host=h password=xxxxx"},
		{"password=SECRET", "password=xxxxx"},
		{"user:SECRET@tcp(db:3306)/app?parseTime=true", "user:xxxxx@tcp(db:3306)/app?parseTime=true"},
		{"user:p@ss/SECRET@tcp(db:3306)/app", "user:xxxxx@tcp(db:3306)/app"},
		{"user:SECRET@/app", "user:xxxxx@/app"},
		{"user:SECRET@tcp(db)/app?x=1&password=SECRET2", "user:xxxxx@tcp(db)/app?x=1&password=xxxxx"},
		{"sqlite:app.db", "sqlite:app.db"},
		{"sqlite:app.db?_auth_user=a&_auth_pass=SECRET", "sqlite:app.db?_auth_user=a&_auth_pass=xxxxx"},
		{"u:SECRET", "<unparseable connection string>"},
		{"deimos.db", "deimos.db"},
	}
	for _, tt := range tests {
		got := DSN(tt.raw)
		if got != tt.want {
			t.Errorf("DSN(%q) = %q, want %q", tt.raw, got, tt.want)
		}
		if strings.Contains(got, "SECRET") {
			t.Errorf("DSN(%q) = %q shows the secret", tt.raw, got)
		}
		// Text over a message quoting the raw string, told its secrets, hides them too.
		msg := "cannot connect to " + tt.raw + ": refused"
		if got := Text(msg, Secrets(tt.raw)...); strings.Contains(got, "SECRET") {
			t.Errorf("Text(%q, Secrets) = %q shows the secret", msg, got)
		}
	}
}

func TestParseURLRefusesAmbiguousCredentials(t *testing.T) {
	for _, raw := range []string{"postgres://u:p#S@h/db", "postgres://u:1/S@h/db", "http://u:p/S@h", "postgres://u:p S@h/db", "postgres://h/db?x=a@b"} {
		if _, err := ParseURL(raw); err == nil {
			t.Errorf("ParseURL(%q) accepted", raw)
		} else if strings.Contains(err.Error(), "S@") {
			t.Errorf("ParseURL(%q) error quotes the URL: %v", raw, err)
		}
	}
	for _, raw := range []string{"postgres://u:p%23S@h/db", "http://h:8081", "postgres://u@h/db?sslmode=disable"} {
		if _, err := ParseURL(raw); err != nil {
			t.Errorf("ParseURL(%q): %v", raw, err)
		}
	}
}

func TestTextMasksStructuredSecrets(t *testing.T) {
	tests := []struct{ in, want string }{
		{"dial postgres://app:SECRET@db/app failed", "dial postgres://app:xxxxx@db/app failed"},
		{"GET http://u:p/SECRET@host/subjects: refused", "GET http://u:xxxxx@host/subjects: refused"},
		{"bad conn string host=h password=SECRET dbname=x", "bad conn string host=h password=xxxxx dbname=x"},
		{"bad conn string host=h password='a SECRET' dbname=x", "bad conn string host=h password=xxxxx dbname=x"},
		{`{"user":"u","password":"SECRET"}`, `{"user":"u","password":"xxxxx"}`},
		{"Authorization: Bearer SECRETTOKEN", "Authorization: Bearer xxxxx"},
		{"url ?access_token=SECRET&x=1", "url ?access_token=xxxxx&x=1"},
		{"password authentication failed for user app", "password authentication failed for user app"},
		{"postgres://app@db/app", "postgres://app@db/app"},
	}
	for _, tt := range tests {
		if got := Text(tt.in); got != tt.want {
			t.Errorf("Text(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if got := Text("auth failed: SECRETVALUE was rejected", "SECRETVALUE"); got != "auth failed: xxxxx was rejected" {
		t.Errorf("known secret: %q", got)
	}
	if got := Text("pipe", "p"); got != "pipe" {
		t.Errorf("a one-letter secret must not mangle text: %q", got)
	}
	// Idempotent: masking twice changes nothing.
	for _, s := range []string{"postgres://u:xxxxx@h/db", "password=xxxxx", DSN("host=h password='a b'")} {
		if got := Text(s); got != s {
			t.Errorf("Text(%q) = %q, want unchanged", s, got)
		}
	}
}
