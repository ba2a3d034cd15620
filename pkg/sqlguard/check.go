package sqlguard

import (
	"errors"
	"strconv"
	"strings"
)

// readings tokenizes q every way the server may read it: on PostgreSQL with
// standard_conforming_strings on and off (a backslash in '…' escapes the
// quote only when off), elsewhere once.
func readings(d Dialect, q string) ([][]Token, error) {
	toks, err := Tokenize(d, q)
	if err != nil {
		return nil, err
	}
	out := [][]Token{toks}
	if d == Postgres && strings.Contains(q, `\`) {
		legacy, err := tokenize(d, q, true)
		if err != nil {
			var e *Error
			if errors.As(err, &e) {
				return nil, &Error{Pos: e.Pos, Msg: e.Msg + " when a backslash escapes a quote (standard_conforming_strings off)", Err: e.Err}
			}
			return nil, err
		}
		out = append(out, legacy)
	}
	return out, nil
}

// trailing returns the index of the last token that is not space or comment (-1: none).
func trailing(toks []Token) int {
	for i := len(toks) - 1; i >= 0; i-- {
		if toks[i].Kind != Space && toks[i].Kind != Comment {
			return i
		}
	}
	return -1
}

// ErrMultiStatement is wrapped by the errors of text that holds more than one statement.
var ErrMultiStatement = errors.New("more than one SQL statement")

// OneStatement checks that q is a single statement under the dialect's rules
// and returns it without one trailing ';' (and what follows it, which is only
// space or comments). A ';' anywhere else, outside strings, quoted
// identifiers and comments, is an error wrapping ErrMultiStatement.
func OneStatement(d Dialect, q string) (string, error) {
	rs, err := readings(d, q)
	if err != nil {
		return "", err
	}
	cut := len(q)
	for _, toks := range rs {
		last := trailing(toks)
		for i, t := range toks {
			if t.Kind != Semicolon {
				continue
			}
			if i == last {
				if t.Pos < cut {
					cut = t.Pos
				}
				continue
			}
			return "", &Error{Pos: t.Pos, Msg: "';' ends a statement here", Err: ErrMultiStatement}
		}
	}
	return strings.TrimRight(q[:cut], " \t\r\n\f\v"), nil
}

// CheckExpr checks a fragment that deimos pastes into its own query as a
// boolean expression (a poller's `where`): one statement (a single trailing
// ';' is dropped), every string, identifier and parenthesis closed, and no
// comments (a -- comment would swallow the rest of deimos's query). It
// returns the fragment to use.
func CheckExpr(d Dialect, frag string) (string, error) {
	f, err := OneStatement(d, strings.TrimSpace(frag))
	if err != nil {
		return "", err
	}
	rs, err := readings(d, f)
	if err != nil {
		return "", err
	}
	for _, toks := range rs {
		depth := 0
		for _, t := range toks {
			switch t.Kind {
			case Comment:
				return "", &Error{Pos: t.Pos, Msg: "SQL comments are not allowed"}
			case Semicolon: // only left by a second trailing ';'
				return "", &Error{Pos: t.Pos, Msg: "a second ';'", Err: ErrMultiStatement}
			case OpenParen:
				depth++
			case CloseParen:
				depth--
				if depth < 0 {
					return "", &Error{Pos: t.Pos, Msg: "unbalanced parentheses: ')' closes nothing"}
				}
			}
		}
		if depth != 0 {
			return "", errors.New("unbalanced parentheses: '(' is never closed")
		}
	}
	return f, nil
}

// Rebind rewrites deimos's own '?' placeholders in q into PostgreSQL's $N,
// numbering from n+1, and returns the text and the last number used. Only
// bare '?' tokens are rewritten: question marks inside strings, quoted
// identifiers and comments, and operators such as ?| and ?&, are kept.
// Other dialects use '?' as is. User fragments must not go through Rebind:
// their '?' are PostgreSQL operators (`tags ? 'vip'`), so callers paste them
// between rebound pieces.
func Rebind(d Dialect, q string, n int) (string, int) {
	if d != Postgres || !strings.Contains(q, "?") {
		return q, n
	}
	var b strings.Builder
	b.Grow(len(q) + len(q)/4)
	m := n
	err := scan(d, q, false, func(t Token) {
		if t.Kind == Placeholder {
			m++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(m))
			return
		}
		b.WriteString(t.Text)
	})
	if err != nil {
		// Our own SQL always lexes; if it does not, leave it for the
		// server to reject rather than guess.
		return q, n
	}
	return b.String(), m
}
