// Package redact is the one place that hides secrets in what deimos prints:
// database URLs and DSNs, schema registry URLs, SASL passwords and tokens.
// Errors, logs and status output pass through it; no other package masks
// secrets its own way.
//
// The rule for connection strings: what cannot be parsed is never echoed.
// A URL whose credentials are ambiguous (an unescaped @ : / ? # % or space
// in the password) prints as a placeholder that names only its scheme.
package redact

import (
	"errors"
	"net/url"
	"regexp"
	"sort"
	"strings"
)

// Mask replaces every hidden value.
const Mask = "xxxxx"

// MinSecretLen is the shortest known secret that Text replaces wherever it
// occurs in free text; shorter ones would mangle ordinary words. Structural
// masking (URL credentials, password=…) applies to secrets of any length.
const MinSecretLen = 4

var schemeRE = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9+.\-]*)://`)

// Placeholder is what is printed instead of a connection string that
// cannot be parsed: only its scheme (when it has the scheme:// form), never
// its text.
func Placeholder(raw string) string {
	if m := schemeRE.FindStringSubmatch(raw); m != nil {
		return "<unparseable " + strings.ToLower(m[1]) + " URL>"
	}
	return "<unparseable connection string>"
}

// ErrAmbiguousURL explains why ParseURL refused a URL. It never contains the URL.
var ErrAmbiguousURL = errors.New("is not a valid URL: percent-encode special characters in the user name and password (%40 for @, %3A for :, %2F for /, %3F for ?, %23 for #, %25 for %, %20 for a space)")

// ParseURL parses scheme://[user[:password]@]host… strictly: it refuses what
// url.Parse refuses and also any URL with an '@' after its host, because
// there the password most likely holds an unescaped '/', '?' or '#' and a
// driver would read part of it as host, path or query (and print it).
// The error never contains the URL; callers print Placeholder(raw) or DSN(raw).
func ParseURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Opaque != "" || !strings.Contains(raw, "://") {
		return nil, ErrAmbiguousURL
	}
	if strings.Contains(u.Host, "@") || strings.Contains(u.EscapedPath(), "@") || strings.Contains(u.RawQuery, "@") || strings.Contains(u.Fragment, "@") {
		return nil, ErrAmbiguousURL
	}
	return u, nil
}

// DSN returns a connection string safe to print: passwords and secret
// parameters masked. It understands URLs (postgres://, mysql://, http(s)://…),
// sqlite:PATH, libpq key=value strings (password='a b') and the
// go-sql-driver/mysql form user:password@tcp(host:3306)/db. A URL that does
// not parse unambiguously, or a string of no known form, becomes
// Placeholder(raw).
func DSN(raw string) string {
	switch {
	case raw == "":
		return ""
	case isSQLite(raw):
		path, q, has := strings.Cut(raw, "?")
		if !has {
			return path
		}
		return path + "?" + maskQuery(q)
	case strings.Contains(raw, "://"):
		u, err := ParseURL(raw)
		if err != nil {
			return Placeholder(raw)
		}
		if u.User != nil {
			if _, has := u.User.Password(); has {
				u.User = url.UserPassword(u.User.Username(), Mask)
			}
		}
		u.RawQuery = maskQuery(u.RawQuery)
		u.Fragment, u.RawFragment = "", ""
		return u.String()
	case keyValueRE.MatchString(raw):
		return maskKeyValues(raw)
	case strings.Contains(raw, "@"):
		return maskMySQL(raw)
	case mysqlNoCredsRE.MatchString(raw):
		// tcp(host:3306)/db?params: the MySQL driver's form without credentials
		if p, q, ok := strings.Cut(raw, "?"); ok {
			return p + "?" + maskQuery(q)
		}
		return raw
	case !strings.Contains(raw, ":"):
		return raw // a bare word (a file name, a host): nowhere to hold a password
	}
	return Placeholder(raw)
}

// Secrets lists the secret parts of a connection string or URL (the
// password, in every spelling a driver might echo, and secret parameters),
// for Text to replace in messages that quote them. It is generous: for an
// ambiguous URL it returns every candidate reading of the password.
func Secrets(raw string) []string {
	var out []string
	add := func(s string) {
		if s != "" {
			out = append(out, s)
			if u, err := url.PathUnescape(s); err == nil && u != s {
				out = append(out, u)
			}
		}
	}
	if raw == "" {
		return nil
	}
	if isSQLite(raw) {
		if _, q, ok := strings.Cut(raw, "?"); ok {
			for _, v := range queryValues(q) {
				add(v)
			}
		}
		return out
	}
	if keyValueRE.MatchString(raw) && !strings.Contains(raw, "://") {
		for _, v := range keyValueSecrets(raw) {
			add(v)
		}
		return out
	}
	rest := raw
	if _, after, ok := strings.Cut(raw, "://"); ok {
		rest = after
	}
	if !strings.Contains(rest, "@") {
		// no credentials section: of unknown form, everything after the
		// first ':' may be a password
		if _, pw, ok := strings.Cut(rest, ":"); ok && !strings.Contains(raw, "://") {
			add(pw)
		}
	}
	// Every '@' may end the credentials: a password can hold unescaped '@',
	// '/', '?' or '#'. Take each reading.
	for i := 0; i < len(rest); i++ {
		if rest[i] != '@' {
			continue
		}
		if _, pw, ok := strings.Cut(rest[:i], ":"); ok {
			add(pw)
		}
	}
	if u, err := url.Parse(raw); err == nil {
		if u.User != nil {
			if p, ok := u.User.Password(); ok {
				add(p)
			}
		}
		for _, v := range queryValues(u.RawQuery) {
			add(v)
		}
	} else if _, q, ok := strings.Cut(raw, "?"); ok {
		for _, v := range queryValues(q) {
			add(v)
		}
	}
	return out
}

// Text masks secrets in free text such as an error message or a log line:
// every known secret (of MinSecretLen or more bytes) wherever it occurs,
// the password of any URL in the text, password=… (and token=, secret=…)
// pairs, JSON "password": "…" members and Bearer tokens.
func Text(s string, secrets ...string) string {
	if len(secrets) > 0 {
		ss := append([]string(nil), secrets...)
		sort.Slice(ss, func(i, j int) bool { return len(ss[i]) > len(ss[j]) })
		for _, sec := range ss {
			if len(sec) >= MinSecretLen && sec != Mask {
				s = strings.ReplaceAll(s, sec, Mask)
			}
		}
	}
	s = urlCredsRE.ReplaceAllStringFunc(s, func(m string) string {
		sub := urlCredsRE.FindStringSubmatch(m)
		user, _, hasPw := strings.Cut(sub[2], ":")
		if !hasPw {
			return m
		}
		return sub[1] + user + ":" + Mask + "@"
	})
	s = jsonPairRE.ReplaceAllString(s, `${1}"`+Mask+`"`)
	s = maskPairsInText(s)
	s = bearerRE.ReplaceAllString(s, "${1}"+Mask)
	return s
}

// IsSecretKey reports whether a parameter or field name holds a secret:
// password, passwd, pwd, sslpassword, _auth_pass, token, access_token, secret…
func IsSecretKey(k string) bool {
	k = strings.ToLower(k)
	for _, w := range []string{"pass", "pwd", "secret", "token", "credential"} {
		if strings.Contains(k, w) {
			return true
		}
	}
	return false
}

func isSQLite(raw string) bool {
	l := strings.ToLower(raw)
	return strings.HasPrefix(l, "sqlite:") || strings.HasPrefix(l, "sqlite3:")
}

const secretKeyPat = `[A-Za-z0-9_.\-]*(?i:pass|pwd|secret|token|credential)[A-Za-z0-9_.\-]*`

var (
	// keyValueRE recognises a libpq-style "key=value key=value" string.
	keyValueRE = regexp.MustCompile(`^\s*[A-Za-z_][A-Za-z0-9_]*\s*=`)
	// urlCredsRE finds scheme://userinfo@ in text, up to the last '@' before
	// a space or quote, so that a password holding '/', '?' or '#' is covered.
	urlCredsRE = regexp.MustCompile("([A-Za-z][A-Za-z0-9+.\\-]*://)([^\\s\"'`<>]*)@")
	jsonPairRE = regexp.MustCompile(`("` + secretKeyPat + `"\s*:\s*)"(?:[^"\\]|\\.)*"`)
	pairKeyRE  = regexp.MustCompile(`(?:^|[^A-Za-z0-9_.\-])(` + secretKeyPat + `)\s*=\s*`)
	// mysqlNoCredsRE recognises go-sql-driver/mysql's DSN without user@
	mysqlNoCredsRE = regexp.MustCompile(`^(?:tcp[46]?|unix)\([^()]*\)/`)
	bearerRE       = regexp.MustCompile(`(?i)(\bbearer\s+)[A-Za-z0-9._~+/=\-]+`)
)

// maskQuery masks the values of secret parameters in a URL query, keeping
// everything else byte for byte.
func maskQuery(q string) string {
	if q == "" {
		return q
	}
	parts := strings.Split(q, "&")
	for i, p := range parts {
		k, _, has := strings.Cut(p, "=")
		if dk, err := url.QueryUnescape(k); err == nil {
			k = dk
		}
		if has && IsSecretKey(k) {
			parts[i] = strings.SplitN(p, "=", 2)[0] + "=" + Mask
		}
	}
	return strings.Join(parts, "&")
}

// queryValues returns the values of secret parameters in a URL query.
func queryValues(q string) []string {
	var out []string
	for _, p := range strings.Split(q, "&") {
		k, v, has := strings.Cut(p, "=")
		if dk, err := url.QueryUnescape(k); err == nil {
			k = dk
		}
		if has && IsSecretKey(k) && v != "" {
			out = append(out, v)
		}
	}
	return out
}

// kvPair is one key=value of a libpq connection string: value spans
// [vStart, vEnd) of the input, quotes included.
type kvPair struct {
	key          string
	vStart, vEnd int
	value        string // unquoted
}

// scanKeyValues reads a libpq "key = value" string: values are bare words or
// single-quoted with backslash escapes; an unterminated quote runs to the end.
func scanKeyValues(s string) []kvPair {
	var out []kvPair
	i := 0
	for i < len(s) {
		for i < len(s) && isSpace(s[i]) {
			i++
		}
		ks := i
		for i < len(s) && s[i] != '=' && !isSpace(s[i]) {
			i++
		}
		key := s[ks:i]
		for i < len(s) && isSpace(s[i]) {
			i++
		}
		if i >= len(s) || s[i] != '=' {
			// not key=value: skip the word
			for i < len(s) && !isSpace(s[i]) {
				i++
			}
			continue
		}
		i++ // '='
		for i < len(s) && isSpace(s[i]) {
			i++
		}
		vs := i
		var val string
		i, val = readValue(s, i, isSpace)
		out = append(out, kvPair{key: key, vStart: vs, vEnd: i, value: val})
	}
	return out
}

// readValue reads the value that starts at s[i]: single- or double-quoted
// (backslash escapes; an unterminated quote runs to the end), or bare up to
// the first byte for which end is true. It returns where the value ends and
// the value without quotes and escapes.
func readValue(s string, i int, end func(byte) bool) (int, string) {
	var val strings.Builder
	if i < len(s) && (s[i] == '\'' || s[i] == '"') {
		q := s[i]
		for i++; i < len(s) && s[i] != q; i++ {
			if s[i] == '\\' && i+1 < len(s) {
				i++
			}
			val.WriteByte(s[i])
		}
		if i < len(s) {
			i++ // closing quote
		}
		return i, val.String()
	}
	for ; i < len(s) && !end(s[i]); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		val.WriteByte(s[i])
	}
	return i, val.String()
}

// endsBareValue ends an unquoted value in free text: a space, a query
// separator, a quote or a closing bracket of the surrounding text.
func endsBareValue(c byte) bool {
	return isSpace(c) || strings.IndexByte("&\"'`,)", c) >= 0
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

func maskKeyValues(s string) string {
	var b strings.Builder
	last := 0
	for _, p := range scanKeyValues(s) {
		if IsSecretKey(p.key) {
			b.WriteString(s[last:p.vStart])
			b.WriteString(Mask)
			last = p.vEnd
		}
	}
	b.WriteString(s[last:])
	return b.String()
}

func keyValueSecrets(s string) []string {
	var out []string
	for _, p := range scanKeyValues(s) {
		if IsSecretKey(p.key) && p.value != "" {
			out = append(out, p.value, s[p.vStart:p.vEnd])
		}
	}
	return out
}

// maskPairsInText masks the value after every "secretkey=" in free text: a
// quoted value to its closing quote (or the end), a bare one to the next space.
func maskPairsInText(s string) string {
	locs := pairKeyRE.FindAllStringSubmatchIndex(s, -1)
	if locs == nil {
		return s
	}
	var b strings.Builder
	last := 0
	for _, l := range locs {
		vs := l[1] // value starts after "key = "
		if vs < last {
			continue
		}
		i, _ := readValue(s, vs, endsBareValue)
		if i == vs || s[vs:i] == Mask {
			continue
		}
		b.WriteString(s[last:vs])
		b.WriteString(Mask)
		last = i
	}
	b.WriteString(s[last:])
	return b.String()
}

// maskMySQL masks the password of a go-sql-driver/mysql DSN,
// [user[:password]@][net[(addr)]]/dbname[?params]: the credentials end at
// the last '@' before the last '/', and the password may hold any byte.
func maskMySQL(raw string) string {
	head, tail := raw, ""
	if i := strings.LastIndex(raw, "/"); i >= 0 {
		head, tail = raw[:i], raw[i:]
	}
	at := strings.LastIndex(head, "@")
	if at < 0 {
		// the '@' is after the last '/': treat everything up to it as credentials
		at = strings.LastIndex(raw, "@")
		head, tail = raw, ""
	}
	creds, rest := head[:at], head[at:]
	if user, _, ok := strings.Cut(creds, ":"); ok {
		creds = user + ":" + Mask
	}
	out := creds + rest + tail
	if p, q, ok := strings.Cut(out, "?"); ok {
		out = p + "?" + maskQuery(q)
	}
	return out
}
