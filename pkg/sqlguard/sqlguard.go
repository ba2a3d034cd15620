// Package sqlguard reads SQL text the way each supported database's lexer
// does, so deimos knows where strings, quoted identifiers and comments begin
// and end. It is the one place that decides whether a SQL fragment from
// configuration is a single statement (a ';' hidden inside what only looks
// like a string must be seen), and which '?' are placeholders.
//
// The rules per dialect (docs/poller.md, "where"):
//   - all: '…' strings with a doubled quote for a quote; -- comments to the end of the
//     line; /* … */ comments; ';' ends a statement.
//   - PostgreSQL: "…" identifiers ("" for a quote); E'…' strings with
//     backslash escapes; dollar quotes $$…$$ and $tag$…$tag$; nested block
//     comments; '$' inside identifiers; '?' is an operator character (jsonb
//     ?, ?|, ?&). Whether a plain '…' string honours backslashes depends on
//     the server's standard_conforming_strings, so checks accept only text
//     that is one statement under both settings.
//   - SQLite: "…", `…` and […] identifiers; ?, ?NNN, :name, @name and $name
//     parameters.
//   - MySQL (kept for later): '…' and "…" strings with backslash escapes;
//     `…` identifiers; # comments; -- starts a comment only when followed by
//     a space or control character; /*! … */ is code, not a comment.
package sqlguard

import (
	"fmt"
	"strings"
)

// Dialect selects the lexical rules.
type Dialect int

// The dialects deimos reads.
const (
	SQLite Dialect = iota
	Postgres
	MySQL
)

// All lists every dialect: a fragment checked for an unknown database must
// pass under each.
var All = []Dialect{SQLite, Postgres, MySQL}

func (d Dialect) String() string {
	switch d {
	case Postgres:
		return "postgres"
	case MySQL:
		return "mysql"
	}
	return "sqlite"
}

// Kind is a token class.
type Kind int

// Token kinds.
const (
	Space       Kind = iota
	Word             // keyword, identifier, number or named parameter
	String           // a string literal of any form
	Ident            // a quoted identifier
	Comment          // a line or block comment
	Semicolon        // ;
	Placeholder      // a '?' parameter (?NNN on SQLite)
	OpenParen        // (
	CloseParen       // )
	Op               // any other punctuation or operator
)

// Token is one lexical unit: Text is the exact source text, Pos its byte offset.
type Token struct {
	Kind Kind
	Text string
	Pos  int
}

// Error is a lexical or structural error at a byte offset of the text.
type Error struct {
	Pos int
	Msg string
	Err error // a class such as ErrMultiStatement (nil: none)
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%v: %s (at byte %d)", e.Err, e.Msg, e.Pos)
	}
	return fmt.Sprintf("%s (at byte %d)", e.Msg, e.Pos)
}

func (e *Error) Unwrap() error { return e.Err }

type lexer struct {
	d   Dialect
	s   string
	pos int
	// backslashStrings: plain '…' strings take backslash escapes
	// (PostgreSQL with standard_conforming_strings off; MySQL always).
	backslashStrings bool
}

// Tokenize splits SQL into tokens under the dialect's rules. Unterminated
// strings, identifiers, comments and dollar quotes are errors. On PostgreSQL
// plain strings are read with standard_conforming_strings on.
func Tokenize(d Dialect, sql string) ([]Token, error) {
	return tokenize(d, sql, d == MySQL)
}

func tokenize(d Dialect, sql string, backslashStrings bool) ([]Token, error) {
	var out []Token
	err := scan(d, sql, backslashStrings, func(t Token) { out = append(out, t) })
	return out, err
}

// scan calls fn for each token in order, without collecting them.
func scan(d Dialect, sql string, backslashStrings bool, fn func(Token)) error {
	l := &lexer{d: d, s: sql, backslashStrings: backslashStrings}
	for l.pos < len(l.s) {
		start := l.pos
		k, err := l.next()
		if err != nil {
			return err
		}
		fn(Token{Kind: k, Text: l.s[start:l.pos], Pos: start})
	}
	return nil
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

func isIdentStart(c byte) bool {
	return c == '_' || c >= 0x80 || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func (l *lexer) isIdentChar(c byte) bool {
	return isIdentStart(c) || isDigit(c) || (c == '$' && l.d != SQLite)
}

func (l *lexer) peek(off int) byte {
	if l.pos+off < len(l.s) {
		return l.s[l.pos+off]
	}
	return 0
}

// pgOpChars are the characters PostgreSQL builds operators from.
const pgOpChars = "+-*/<>=~!@#%^&|`?"

func (l *lexer) next() (Kind, error) {
	c := l.s[l.pos]
	switch {
	case isSpace(c):
		for l.pos < len(l.s) && isSpace(l.s[l.pos]) {
			l.pos++
		}
		return Space, nil
	case c == '\'':
		return String, l.quoted('\'', l.backslashStrings, "string literal")
	case c == '"':
		if l.d == MySQL {
			return String, l.quoted('"', true, "string literal")
		}
		return Ident, l.quoted('"', false, "quoted identifier")
	case c == '`' && l.d != Postgres:
		return Ident, l.quoted('`', false, "quoted identifier")
	case c == '[' && l.d == SQLite:
		end := strings.IndexByte(l.s[l.pos+1:], ']')
		if end < 0 {
			return Ident, &Error{Pos: l.pos, Msg: "unterminated [identifier]"}
		}
		l.pos += end + 2
		return Ident, nil
	case c == '-' && l.peek(1) == '-' && (l.d != MySQL || l.peek(2) == 0 || l.peek(2) <= ' '):
		return Comment, l.lineComment()
	case c == '#' && l.d == MySQL:
		return Comment, l.lineComment()
	case c == '/' && l.peek(1) == '*' && !(l.d == MySQL && l.peek(2) == '!'):
		return Comment, l.blockComment()
	case c == ';':
		l.pos++
		return Semicolon, nil
	case c == '(':
		l.pos++
		return OpenParen, nil
	case c == ')':
		l.pos++
		return CloseParen, nil
	case c == '$' && l.d == Postgres:
		if k, ok, err := l.dollar(); ok || err != nil {
			return k, err
		}
		l.pos++
		for l.pos < len(l.s) && isDigit(l.s[l.pos]) { // $1
			l.pos++
		}
		return Word, nil
	case c == '?' && l.d == Postgres:
		return l.pgOperator(), nil
	case c == '?':
		l.pos++
		for l.pos < len(l.s) && isDigit(l.s[l.pos]) {
			l.pos++
		}
		return Placeholder, nil
	case l.d == Postgres && strings.IndexByte(pgOpChars, c) >= 0:
		return l.pgOperator(), nil
	case isIdentStart(c) || isDigit(c) || c == '$' || c == ':' || c == '@':
		if (c == 'E' || c == 'e') && l.d == Postgres && l.peek(1) == '\'' {
			l.pos++
			return String, l.quoted('\'', true, "string literal")
		}
		l.pos++
		for l.pos < len(l.s) && l.isIdentChar(l.s[l.pos]) {
			l.pos++
		}
		return Word, nil
	}
	l.pos++
	return Op, nil
}

// quoted reads a quoted token starting at l.pos; a doubled quote stands for
// itself, and with backslash a backslash escapes the next byte.
func (l *lexer) quoted(q byte, backslash bool, what string) error {
	start := l.pos
	l.pos++
	for l.pos < len(l.s) {
		c := l.s[l.pos]
		switch {
		case backslash && c == '\\':
			l.pos += 2
			continue
		case c == q && l.peek(1) == q:
			l.pos += 2
			continue
		case c == q:
			l.pos++
			return nil
		}
		l.pos++
	}
	l.pos = len(l.s)
	return &Error{Pos: start, Msg: "unterminated " + what}
}

func (l *lexer) lineComment() error {
	end := strings.IndexByte(l.s[l.pos:], '\n')
	if end < 0 {
		l.pos = len(l.s)
	} else {
		l.pos += end + 1
	}
	return nil
}

// blockComment reads /* … */; PostgreSQL nests them, the others do not.
func (l *lexer) blockComment() error {
	start := l.pos
	depth := 0
	for l.pos < len(l.s) {
		switch {
		case l.s[l.pos] == '/' && l.peek(1) == '*' && (depth == 0 || l.d == Postgres):
			depth++
			l.pos += 2
		case l.s[l.pos] == '*' && l.peek(1) == '/':
			depth--
			l.pos += 2
			if depth == 0 {
				return nil
			}
		default:
			l.pos++
		}
	}
	return &Error{Pos: start, Msg: "unterminated /* comment"}
}

// dollar reads a PostgreSQL dollar-quoted string ($$…$$, $tag$…$tag$). ok is
// false when the '$' does not open one ($1, a lone $).
func (l *lexer) dollar() (Kind, bool, error) {
	i := l.pos + 1
	if i < len(l.s) && isIdentStart(l.s[i]) {
		for i < len(l.s) && (isIdentStart(l.s[i]) || isDigit(l.s[i])) {
			i++
		}
	}
	if i >= len(l.s) || l.s[i] != '$' {
		return 0, false, nil
	}
	tag := l.s[l.pos : i+1]
	end := strings.Index(l.s[i+1:], tag)
	if end < 0 {
		return String, true, &Error{Pos: l.pos, Msg: "unterminated dollar-quoted string " + tag}
	}
	l.pos = i + 1 + end + len(tag)
	return String, true, nil
}

// pgOperator reads a run of PostgreSQL operator characters (stopping before
// a comment start). A lone '?' is a Placeholder candidate; '?' inside a
// longer operator (?|, ?&, ?-|) is an Op.
func (l *lexer) pgOperator() Kind {
	start := l.pos
	for l.pos < len(l.s) && strings.IndexByte(pgOpChars, l.s[l.pos]) >= 0 {
		if l.pos > start && ((l.s[l.pos] == '-' && l.peek(1) == '-') || (l.s[l.pos] == '/' && l.peek(1) == '*')) {
			break
		}
		l.pos++
	}
	if l.s[start:l.pos] == "?" {
		return Placeholder
	}
	return Op
}
