package sqlguard

import (
	"errors"
	"strings"
	"testing"
)

func TestCheckExpr(t *testing.T) {
	pg, lite, my := []Dialect{Postgres}, []Dialect{SQLite}, []Dialect{MySQL}
	cases := []struct {
		name, frag string
		on         []Dialect
		want       string // "" when refused
		err        string
	}{
		{"plain", "active AND name <> 'a;b'", All, "active AND name <> 'a;b'", ""},
		{"doubled quote hides nothing", "name = 'it''s; fine'", All, "name = 'it''s; fine'", ""},
		{"trailing semicolon stripped", "active = 1 ; ", All, "active = 1", ""},
		{"issue exploit: quote inside identifier", `1=1 OR "it's" IS NULL); DELETE FROM other; SELECT (1 OR "it's" IS NULL`, All, "", "more than one SQL statement"},
		{"semicolon", "1=1; DELETE FROM widgets", All, "", "more than one SQL statement"},
		{"two trailing semicolons", "1=1;;", All, "", "more than one SQL statement"},
		{"identifier with semicolon", `"a;b" = 1`, append(pg, SQLite), `"a;b" = 1`, ""},
		{"backtick identifier", "`a;b` = 1", append(lite, MySQL), "`a;b` = 1", ""},
		{"backtick is not a quote on postgres", "`a;b` = 1", pg, "", "more than one SQL statement"},
		{"bracket identifier on sqlite", "[a;b] = 1", lite, "[a;b] = 1", ""},
		{"E string with escaped quote", `name = E'x\'; DELETE FROM t; --'`, pg, `name = E'x\'; DELETE FROM t; --'`, ""},
		{"E string is not special on sqlite", `name = E'x\'; DELETE FROM t; --'`, lite, "", "more than one SQL statement"},
		{"backslash on mysql", `name = 'x\'; DELETE FROM t; #'`, my, `name = 'x\'; DELETE FROM t; #'`, ""},
		{"plain string with backslash before the quote, both PG readings", `name = 'a\' AND b = ';DELETE FROM t;'`, pg, "", "standard_conforming_strings"},
		{"regex backslash is fine", `name ~ '\d+'`, pg, `name ~ '\d+'`, ""},
		{"dollar quote", "body = $$a;b$$", pg, "body = $$a;b$$", ""},
		{"tagged dollar quote", "body = $x$a;$$;b$x$", pg, "body = $x$a;$$;b$x$", ""},
		{"dollar quote is not a string on sqlite", "body = $$a;b$$", lite, "", "more than one SQL statement"},
		{"unterminated dollar quote", "body = $x$a;b", pg, "", "unterminated dollar-quoted"},
		{"jsonb operators", "tags ? 'vip' AND tags ?| array['a'] AND tags ?& array['b']", pg, "tags ? 'vip' AND tags ?| array['a'] AND tags ?& array['b']", ""},
		{"line comment", "active -- x", All, "", "comments are not allowed"},
		{"block comment", "active /* x */", All, "", "comments are not allowed"},
		{"comment hides a quote", "active /* ' */ ; DELETE FROM t", All, "", "more than one SQL statement"},
		{"nested comment on postgres", "active /* /* */ ; */ = 1", pg, "", "comments are not allowed"},
		{"non-nested comment on sqlite exposes the ;", "active /* /* */ ; */ = 1", lite, "", "more than one SQL statement"},
		{"mysql -- needs a space", "a --1; DELETE FROM t", my, "", "more than one SQL statement"},
		{"mysql executable comment is code", "a = 1 /*!; DELETE FROM t */", my, "", "more than one SQL statement"},
		{"unterminated string", "name = 'x", All, "", "unterminated string"},
		{"unterminated identifier", `"x = 1`, append(pg, SQLite), "", "unterminated quoted identifier"},
		{"unbalanced close", "1=1) OR (1=1", All, "", "unbalanced parentheses"},
		{"unbalanced open", "(1=1", All, "", "unbalanced parentheses"},
		{"parenthesis in a string", "name = ')'", All, "name = ')'", ""},
	}
	for _, c := range cases {
		for _, d := range c.on {
			got, err := CheckExpr(d, c.frag)
			if c.err == "" {
				if err != nil || got != c.want {
					t.Errorf("%s (%s): got %q, %v; want %q", c.name, d, got, err, c.want)
				}
				continue
			}
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s (%s): got %q, %v; want an error with %q", c.name, d, got, err, c.err)
			}
		}
	}
}

func TestOneStatement(t *testing.T) {
	if q, err := OneStatement(SQLite, "SELECT 1; -- done\n"); err != nil || q != "SELECT 1" {
		t.Fatalf("trailing: %q %v", q, err)
	}
	_, err := OneStatement(SQLite, "SELECT 1; SELECT 2")
	if !errors.Is(err, ErrMultiStatement) {
		t.Fatalf("two statements: %v", err)
	}
	var e *Error
	if !errors.As(err, &e) || e.Pos != 8 {
		t.Fatalf("position: %#v", err)
	}
}

func TestRebind(t *testing.T) {
	cases := []struct{ in, want string }{
		{"SELECT ? , '?' , ?", "SELECT $1 , '?' , $2"},
		{`INSERT INTO "it's" ("a?", b) VALUES (?, ?)`, `INSERT INTO "it's" ("a?", b) VALUES ($1, $2)`},
		{"SELECT $$?$$, E'\\'?', ? -- ?\n, /* ? */ ?", "SELECT $$?$$, E'\\'?', $1 -- ?\n, /* ? */ $2"},
		{"x ?| y AND x ?& y AND a = ?", "x ?| y AND x ?& y AND a = $1"},
		{"(?,?)", "($1,$2)"},
	}
	for _, c := range cases {
		if got, n := Rebind(Postgres, c.in, 0); got != c.want {
			t.Errorf("Rebind(%q) = %q (%d), want %q", c.in, got, n, c.want)
		}
	}
	if got, n := Rebind(Postgres, "a = ? AND b = ?", 3); got != "a = $4 AND b = $5" || n != 5 {
		t.Errorf("numbering from 3: %q %d", got, n)
	}
	if got, _ := Rebind(SQLite, "a = ?", 0); got != "a = ?" {
		t.Errorf("sqlite: %q", got)
	}
}

func TestTokenizeKinds(t *testing.T) {
	toks, err := Tokenize(Postgres, `a$b $1 "x""y" E'\n' $t$z$t$`)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []Kind
	for _, tk := range toks {
		if tk.Kind != Space {
			kinds = append(kinds, tk.Kind)
		}
	}
	want := []Kind{Word, Word, Ident, String, String}
	if len(kinds) != len(want) {
		t.Fatalf("kinds %v, want %v (%v)", kinds, want, toks)
	}
	for i := range want {
		if kinds[i] != want[i] {
			t.Fatalf("kinds %v, want %v", kinds, want)
		}
	}
}
