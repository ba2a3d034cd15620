package checkpoint

import (
	"bytes"
	"context"
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
	"time"

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
}

func (e *HandlerError) Error() string { return e.Message }

// DefaultSkipExitCode is the exit status that means "skipped" (not 3, which
// is deimos's own "service unavailable" exit: a handler that calls deimos and
// passes its status on must not turn an outage into skipped messages).
const DefaultSkipExitCode = 99

// Exec runs a shell command per message: `sh -c Command`, the payload on
// stdin and the metadata in DEIMOS_* environment variables. Exit 0 is an
// acknowledgement, SkipExitCode a skip, anything else a failure.
type Exec struct {
	Command      string
	SkipExitCode int       // 0 means DefaultSkipExitCode
	Stderr       io.Writer // the handler's stderr is copied here (nil: discarded)
	Dir          string
	// Timeout bounds one run (0: none).
	Timeout time.Duration
	mu      sync.Mutex
}

var headerNameRE = regexp.MustCompile(`[^A-Za-z0-9_]`)

// Env returns the DEIMOS_* variables for a message.
func Env(m Message) []string {
	env := []string{
		"DEIMOS_TOPIC=" + m.Topic,
		"DEIMOS_PARTITION=" + strconv.Itoa(int(m.Partition)),
		"DEIMOS_OFFSET=" + strconv.FormatInt(m.Offset, 10),
		"DEIMOS_GROUP=" + m.Group,
		"DEIMOS_RETRY_COUNT=" + strconv.Itoa(m.RetryCount),
		"DEIMOS_CHECKSUM=" + m.Checksum,
	}
	if !m.Timestamp.IsZero() {
		env = append(env, "DEIMOS_TIMESTAMP="+m.Timestamp.UTC().Format(time.RFC3339Nano))
	}
	if m.Key != nil {
		env = append(env, "DEIMOS_KEY="+keyText(m.Key))
	}
	if m.Payload == nil {
		env = append(env, "DEIMOS_TOMBSTONE=true")
	}
	if m.DecodeErr != "" {
		env = append(env, "DEIMOS_DECODE_ERROR="+m.DecodeErr)
	}
	for _, h := range m.Headers {
		env = append(env, "DEIMOS_HEADER_"+strings.ToUpper(headerNameRE.ReplaceAllString(h.Key, "_"))+"="+string(h.Value))
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

// Run runs the command once. It is not stopped by ctx being cancelled (a
// shutdown lets the in-flight message finish); Timeout bounds it instead.
func (e *Exec) Run(ctx context.Context, m Message) (Result, error) {
	rctx := context.WithoutCancel(ctx)
	if e.Timeout > 0 {
		var cancel context.CancelFunc
		rctx, cancel = context.WithTimeout(rctx, e.Timeout)
		defer cancel()
	}
	cmd := exec.CommandContext(rctx, "sh", "-c", e.Command)
	cmd.Dir = e.Dir
	cmd.Env = append(os.Environ(), Env(m)...)
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
	err := cmd.Run()
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
