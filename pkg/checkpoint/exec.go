package checkpoint

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/deimos-cli/deimos/pkg/consume"
)

// Message is what a handler is given for one consumed message.
type Message struct {
	Topic      string
	Partition  int32
	Offset     int64
	Timestamp  time.Time
	Key        []byte // decoded key as text (JSON for structured keys); nil: no key
	Payload    []byte // payload text (decoded JSON); nil: tombstone
	Headers    []consume.Header
	Group      string
	RetryCount int
	Checksum   string
	DecodeErr  string
}

// Result is a handler's answer for a message that did not fail.
type Result struct {
	Acked bool
	// Ack holds what the handler printed as its ack JSON (nil: nothing).
	Ack *Ack
}

// Runner handles one message. An error means the message failed; it is
// retried (or recorded as a failure after max retries).
type Runner interface {
	Run(ctx context.Context, m Message) (Result, error)
}

// HandlerError is a failed handler run: what the failures table records.
type HandlerError struct {
	Class     string
	Message   string
	Backtrace []string
	// Permanent: the message itself cannot be handed to the handler, so
	// running it again cannot help; it is recorded as a failure at once.
	Permanent bool
}

func (e *HandlerError) Error() string { return e.Message }

// DefaultSkipExitCode is the exit status that means "skipped" (not 3, which
// is deimos's own "service unavailable" exit: a handler that calls deimos and
// passes its status on must not turn an outage into skipped messages).
const DefaultSkipExitCode = 99

// Exec runs a shell command per message: `sh -c Command`, the payload on
// stdin, the message metadata as a JSON document in a file named by
// DEIMOS_METADATA, and the small metadata values also in DEIMOS_*
// environment variables (docs/events.md, "What a handler gets"). Exit 0 is
// an acknowledgement, SkipExitCode a skip, anything else a failure.
//
// The handler does not inherit deimos's environment (which holds database
// URLs, SASL passwords and tokens): only BaseEnv's allow-list plus PassEnv.
type Exec struct {
	Command      string
	SkipExitCode int       // 0 means DefaultSkipExitCode
	Stderr       io.Writer // the handler's stderr is copied here (nil: discarded)
	Dir          string
	// Timeout bounds one run (0: none).
	Timeout time.Duration
	// PassEnv names more variables of deimos's environment to pass on
	// (NAME, or PREFIX* for every variable starting with PREFIX).
	PassEnv []string
	// Environ is deimos's environment (nil: os.Environ()).
	Environ []string
	mu      sync.Mutex
}

// Limits of what goes into environment variables. Linux refuses to start a
// process when one NAME=value string exceeds 128 KiB or when the whole
// environment is too large, and no variable can hold a NUL byte; a value
// that breaks a limit is left out of the environment (named in
// DEIMOS_OMITTED) and is only in the metadata file.
const (
	MaxEnvValue = 32 << 10
	maxEnvTotal = 256 << 10
)

// SafeEnvNames are passed to handlers from deimos's environment.
var SafeEnvNames = []string{"PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LANGUAGE", "LC_*", "TZ", "TMPDIR", "TERM"}

var envNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*\*?$`)

// CheckPassEnv validates --pass-env names (NAME or PREFIX*).
func CheckPassEnv(names []string) error {
	for _, n := range names {
		if !envNameRE.MatchString(n) {
			return fmt.Errorf("--pass-env %q: not a variable name (NAME or PREFIX*)", n)
		}
	}
	return nil
}

// Validate checks the command and PassEnv before any message is run: a
// command that cannot start must be a configuration error (exit 2), not a
// failure of every message.
func (e *Exec) Validate() error {
	if strings.TrimSpace(e.Command) == "" {
		return errors.New("handler command is empty")
	}
	if strings.IndexByte(e.Command, 0) >= 0 {
		return errors.New("handler command contains a NUL byte")
	}
	return CheckPassEnv(e.PassEnv)
}

func envMatch(pattern, name string) bool {
	if p, ok := strings.CutSuffix(pattern, "*"); ok {
		return strings.HasPrefix(name, p)
	}
	return pattern == name
}

// BaseEnv returns the variables of environ that a handler inherits: the
// SafeEnvNames and those matching pass. Other DEIMOS_* variables are not
// passed unless named in pass.
func BaseEnv(environ, pass []string) []string {
	var out []string
	for _, kv := range environ {
		name, _, ok := strings.Cut(kv, "=")
		if !ok {
			continue
		}
		keep := false
		for _, p := range pass {
			keep = keep || envMatch(p, name)
		}
		if !strings.HasPrefix(name, "DEIMOS_") {
			for _, p := range SafeEnvNames {
				keep = keep || envMatch(p, name)
			}
		}
		if keep {
			out = append(out, kv)
		}
	}
	return out
}

var headerNameRE = regexp.MustCompile(`[^A-Za-z0-9_]`)

// Env returns the DEIMOS_* variables for a message (without
// DEIMOS_METADATA). A value with a NUL byte, longer than MaxEnvValue, or
// beyond the total budget is left out and its variable named in
// DEIMOS_OMITTED (comma-separated).
func Env(m Message) []string {
	type kv struct{ k, v string }
	vars := []kv{
		{"DEIMOS_TOPIC", m.Topic},
		{"DEIMOS_PARTITION", strconv.Itoa(int(m.Partition))},
		{"DEIMOS_OFFSET", strconv.FormatInt(m.Offset, 10)},
		{"DEIMOS_GROUP", m.Group},
		{"DEIMOS_RETRY_COUNT", strconv.Itoa(m.RetryCount)},
		{"DEIMOS_CHECKSUM", m.Checksum},
	}
	if !m.Timestamp.IsZero() {
		vars = append(vars, kv{"DEIMOS_TIMESTAMP", m.Timestamp.UTC().Format(time.RFC3339Nano)})
	}
	if m.Payload == nil {
		vars = append(vars, kv{"DEIMOS_TOMBSTONE", "true"})
	}
	if m.Key != nil {
		vars = append(vars, kv{"DEIMOS_KEY", keyText(m.Key)})
	}
	if m.DecodeErr != "" {
		vars = append(vars, kv{"DEIMOS_DECODE_ERROR", m.DecodeErr})
	}
	for _, h := range m.Headers {
		vars = append(vars, kv{"DEIMOS_HEADER_" + strings.ToUpper(headerNameRE.ReplaceAllString(h.Key, "_")), string(h.Value)})
	}
	var env, omitted []string
	total := 0
	for _, x := range vars {
		n := len(x.k) + 1 + len(x.v)
		if len(x.v) > MaxEnvValue || strings.IndexByte(x.v, 0) >= 0 || total+n > maxEnvTotal {
			omitted = append(omitted, x.k)
			continue
		}
		total += n
		env = append(env, x.k+"="+x.v)
	}
	if len(omitted) > 0 {
		env = append(env, "DEIMOS_OMITTED="+strings.Join(omitted, ","))
	}
	return env
}

// keyText gives a JSON string key without its quotes; other keys as JSON.
func keyText(k []byte) string {
	var s string
	if json.Unmarshal(k, &s) == nil {
		return s
	}
	return string(k)
}

// HandlerMetadata is the JSON document in the DEIMOS_METADATA file: every
// metadata value in full, whatever its size or bytes.
type HandlerMetadata struct {
	Topic      string  `json:"topic"`
	Partition  int32   `json:"partition"`
	Offset     int64   `json:"offset"`
	Timestamp  *string `json:"timestamp"`
	Group      string  `json:"group"`
	RetryCount int     `json:"retry_count"`
	Checksum   *string `json:"checksum"`
	Tombstone  bool    `json:"tombstone"`
	// Key is the key text as DEIMOS_KEY gives it (null: no key, or not
	// UTF-8: then KeyBase64 holds its bytes).
	Key       *string `json:"key"`
	KeyBase64 *string `json:"key_base64,omitempty"`
	// Headers in record order (a key may repeat).
	Headers     []HeaderMetadata `json:"headers"`
	DecodeError *string          `json:"decode_error,omitempty"`
}

// HeaderMetadata is one header: Value when it is UTF-8 text, else ValueBase64.
type HeaderMetadata struct {
	Key         string  `json:"key"`
	Value       *string `json:"value"`
	ValueBase64 *string `json:"value_base64,omitempty"`
}

func textOrBase64(b []byte) (*string, *string) {
	if utf8.Valid(b) {
		s := string(b)
		return &s, nil
	}
	s := base64.StdEncoding.EncodeToString(b)
	return nil, &s
}

// MetadataOf builds the metadata document of a message.
func MetadataOf(m Message) HandlerMetadata {
	md := HandlerMetadata{Topic: m.Topic, Partition: m.Partition, Offset: m.Offset, Group: m.Group, RetryCount: m.RetryCount,
		Tombstone: m.Payload == nil, Headers: []HeaderMetadata{}}
	if !m.Timestamp.IsZero() {
		ts := m.Timestamp.UTC().Format(time.RFC3339Nano)
		md.Timestamp = &ts
	}
	if m.Checksum != "" {
		md.Checksum = &m.Checksum
	}
	if m.Key != nil {
		md.Key, md.KeyBase64 = textOrBase64([]byte(keyText(m.Key)))
	}
	if m.DecodeErr != "" {
		md.DecodeError = &m.DecodeErr
	}
	for _, h := range m.Headers {
		hm := HeaderMetadata{Key: h.Key}
		hm.Value, hm.ValueBase64 = textOrBase64(h.Value)
		md.Headers = append(md.Headers, hm)
	}
	return md
}

// writeMetadata writes the message's metadata document to a new private
// temp file and returns its path.
func writeMetadata(m Message) (string, error) {
	b, err := json.Marshal(MetadataOf(m))
	if err != nil {
		return "", err
	}
	f, err := os.CreateTemp("", "deimos-message-*.json") // mode 0600
	if err != nil {
		return "", err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		os.Remove(f.Name())
		return "", err
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return "", err
	}
	return f.Name(), nil
}

type tailBuffer struct {
	buf bytes.Buffer
	max int
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.buf.Write(p)
	if t.buf.Len() > 2*t.max {
		b := t.buf.Bytes()[t.buf.Len()-t.max:]
		nb := append([]byte(nil), b...)
		t.buf.Reset()
		t.buf.Write(nb)
	}
	return len(p), nil
}

// startErrorIsTheMessage reports whether a failure to start the handler came
// from what deimos passed it (arguments and environment too large or
// invalid), as opposed to the machine (no sh, no processes or memory left),
// which is worth retrying.
func startErrorIsTheMessage(err error) bool {
	return errors.Is(err, syscall.E2BIG) || errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ENAMETOOLONG) ||
		strings.Contains(err.Error(), "contains NUL") // os/exec's own check of the environment (no exported error)
}

// Run runs the command once. It is not stopped by ctx being cancelled (a
// shutdown lets the in-flight message finish); Timeout bounds it instead.
func (e *Exec) Run(ctx context.Context, m Message) (Result, error) {
	rctx := context.WithoutCancel(ctx)
	if e.Timeout > 0 {
		var cancel context.CancelFunc
		rctx, cancel = context.WithTimeout(rctx, e.Timeout)
		defer cancel()
	}
	metaPath, err := writeMetadata(m)
	if err != nil {
		return Result{}, &HandlerError{Class: "Deimos::HandlerStartError", Message: "cannot hand the message to the handler: writing its metadata file: " + err.Error(), Backtrace: []string{}}
	}
	defer os.Remove(metaPath)
	environ := e.Environ
	if environ == nil {
		environ = os.Environ()
	}
	cmd := exec.CommandContext(rctx, "sh", "-c", e.Command)
	cmd.Dir = e.Dir
	cmd.Env = append(append(BaseEnv(environ, e.PassEnv), Env(m)...), "DEIMOS_METADATA="+metaPath)
	cmd.Stdin = bytes.NewReader(m.Payload)
	out := &tailBuffer{max: 1 << 20}
	errTail := &tailBuffer{max: 64 << 10}
	cmd.Stdout = out
	var stderr io.Writer = errTail
	if e.Stderr != nil {
		stderr = io.MultiWriter(errTail, lockedWriter{&e.mu, e.Stderr})
	}
	cmd.Stderr = stderr
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		return Result{}, &HandlerError{Class: "Deimos::HandlerStartError", Message: "cannot run handler: " + err.Error(), Backtrace: []string{},
			Permanent: startErrorIsTheMessage(err)}
	}
	err = cmd.Wait()
	skip := e.SkipExitCode
	if skip == 0 {
		skip = DefaultSkipExitCode
	}
	var ee *exec.ExitError
	switch {
	case err == nil:
		return Result{Acked: true, Ack: parseAck(out.buf.Bytes())}, nil
	case errors.As(err, &ee) && ee.ExitCode() == skip:
		return Result{}, nil
	case errors.As(err, &ee):
		lines := tailLines(errTail.buf.String(), 20)
		msg := fmt.Sprintf("handler exited with status %d", ee.ExitCode())
		if ee.ExitCode() < 0 {
			msg = "handler " + ee.String()
		}
		if rctx.Err() != nil && e.Timeout > 0 {
			msg = fmt.Sprintf("handler timed out after %s", e.Timeout)
		}
		if len(lines) > 0 {
			msg += ": " + lines[len(lines)-1]
		}
		return Result{}, &HandlerError{Class: "Deimos::HandlerExitError", Message: msg, Backtrace: lines}
	default:
		return Result{}, &HandlerError{Class: "Deimos::HandlerStartError", Message: "cannot run handler: " + err.Error(), Backtrace: []string{}}
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func tailLines(s string, n int) []string {
	var out []string
	for _, l := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		if l = strings.TrimRight(l, "\r"); l != "" {
			out = append(out, l)
		}
	}
	if len(out) > n {
		out = out[len(out)-n:]
	}
	return out
}

// parseAck reads an ack JSON object ({"entity_id","event_time","event_type",
// "event_version"}) from the handler's stdout: the whole output or its last
// non-empty line. Anything else is not an ack.
func parseAck(out []byte) *Ack {
	cands := [][]byte{bytes.TrimSpace(out)}
	if lines := tailLines(string(out), 1); len(lines) == 1 {
		cands = append(cands, []byte(lines[0]))
	}
	for _, c := range cands {
		var m map[string]any
		d := json.NewDecoder(bytes.NewReader(c))
		d.UseNumber()
		if d.Decode(&m) != nil || m == nil {
			continue
		}
		a, ok := ackFrom(m, Fields{EntityID: "entity_id", EventTime: "event_time", EventType: "event_type", EventVersion: "event_version"})
		if ok {
			return &a
		}
	}
	return nil
}

// Fields name the payload fields that give entity_id, event_time,
// event_type and event_version when the handler prints no ack.
type Fields struct {
	EntityID, EventTime, EventType, EventVersion string
}

func scalar(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case json.Number:
		return x.String(), true
	case bool:
		return strconv.FormatBool(x), true
	}
	return "", false
}

func ackFrom(m map[string]any, f Fields) (Ack, bool) {
	var a Ack
	found := false
	str := func(name string) *string {
		if name == "" {
			return nil
		}
		if s, ok := scalar(m[name]); ok {
			found = true
			return &s
		}
		return nil
	}
	a.EntityID = str(f.EntityID)
	a.EventType = str(f.EventType)
	a.EventVersion = str(f.EventVersion)
	if s := str(f.EventTime); s != nil {
		if t, err := ParseTime(*s); err == nil {
			a.EventTime = &t
		}
	}
	return a, found
}

// FromPayload extracts the ack fields from a JSON object payload.
func (f Fields) FromPayload(payload []byte) Ack {
	var m map[string]any
	d := json.NewDecoder(bytes.NewReader(payload))
	d.UseNumber()
	if payload == nil || d.Decode(&m) != nil {
		return Ack{}
	}
	a, _ := ackFrom(m, f)
	return a
}

// Merge overlays the handler's ack on the payload-derived one.
func (a Ack) Merge(o *Ack) Ack {
	if o == nil {
		return a
	}
	if o.EntityID != nil {
		a.EntityID = o.EntityID
	}
	if o.EventTime != nil {
		a.EventTime = o.EventTime
	}
	if o.EventType != nil {
		a.EventType = o.EventType
	}
	if o.EventVersion != nil {
		a.EventVersion = o.EventVersion
	}
	return a
}
