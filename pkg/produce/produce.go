// Package produce reads JSON lines, key/value lines or consume envelopes,
// encodes them per topic through the encode engine and hands them to a sink
// (Kafka, the outbox table, or a dry run).
package produce

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/deimos-cli/deimos/pkg/encode"
	"github.com/deimos-cli/deimos/pkg/envelope"
	"github.com/deimos-cli/deimos/pkg/errs"
)

// Input formats.
const (
	InputAuto     = "auto"     // envelope when the first record looks like one, else JSON lines
	InputJSON     = "json"     // one payload per line
	InputEnvelope = "envelope" // what `consume --output json` writes
)

// Header is a record header.
type Header = envelope.Header

// Encoder is the part of the encode engine produce needs.
type Encoder interface {
	SpecFor(topic string) (encode.Spec, bool)
	Encode(ctx context.Context, s encode.Spec, m encode.Message) (encode.Encoded, error)
}

// Options configure Run.
type Options struct {
	Topic     string // -t; may be empty with envelope input (each envelope names its topic)
	Input     string // auto | json | envelope
	KeyDelim  string // -K: each line is KEY<DELIM>VALUE
	Key       *string
	Headers   []Header
	Partition int32 // -1: the partitioner decides
	// TombstoneEmpty (-Z) turns an empty value into a tombstone.
	TombstoneEmpty bool
	// IgnorePartition drops envelope partitions (let the partitioner choose).
	IgnorePartition bool
	// Encoder is nil for raw bytes; SpecOverride, when set, replaces SpecFor.
	Encoder      Encoder
	SpecOverride func(topic string) (encode.Spec, bool)
	// MaxLine is the longest accepted input line (default 64 MiB).
	MaxLine int
	// Workers encode in parallel (default GOMAXPROCS); output order is input order.
	Workers int
	// OnRead is called after each line is read, with the bytes read so far.
	OnRead func(line int, bytesRead int64)
	// KeepGoing skips an input line that cannot be read or encoded (it is
	// reported through OnBadLine and counted in Result.BadLines) instead of
	// stopping there. An unreachable registry or a usage error still stops.
	KeepGoing bool
	// OnBadLine, with KeepGoing, is called for each skipped line, in input order.
	OnBadLine func(*InputError)
	// SchemaIDs encodes an envelope's key or value that carries a
	// key_schema_id / value_schema_id with that registry schema (Encoder must
	// be an IDEncoder) instead of per the topic: a copy gets the bytes of
	// its source when the registry is the same.
	SchemaIDs bool
}

// IDEncoder encodes a decoded key or value with a registry schema by id.
type IDEncoder interface {
	EncodeWithID(ctx context.Context, id int, doc json.RawMessage) ([]byte, error)
}

// Out is one message ready for a sink.
type Out struct {
	Line         int // input line number (1-based)
	Topic        string
	Key, Value   []byte // nil: no key / tombstone
	PartitionKey []byte // nil: hash the key
	Partition    int32  // -1: partitioner
	Timestamp    time.Time
	Headers      []Header

	// owner is the chunk the message belongs to, when the sink hands it
	// back (holder); rec is the chunk's Kafka record KafkaSink may send it
	// as (nil: KafkaSink allocates one).
	owner *chunk
	rec   *sinkRecord
}

// Sink receives messages. Send must not keep m after returning unless it
// copies it, or is a holder.
type Sink interface {
	Send(ctx context.Context, m *Out) error
	// Close flushes and reports: delivered messages and value+key bytes.
	Close(ctx context.Context) (Result, error)
}

// Failure is one message a sink could not deliver.
type Failure struct {
	Line int
	Err  error
}

// Result is what a sink delivered.
type Result struct {
	Messages int64
	Bytes    int64
	Failed   int64
	Failures []Failure // the first ones (at most 100)
	// BadLines counts input lines skipped under KeepGoing; BadLineNumbers
	// holds the first ones (at most 100).
	BadLines       int64
	BadLineNumbers []int
}

// InputError is a bad input line: its number and what is wrong.
type InputError struct {
	Line int
	Err  error
}

func (e *InputError) Error() string { return fmt.Sprintf("line %d: %v", e.Line, e.Err) }
func (e *InputError) Unwrap() error { return e.Err }

// Run reads in, encodes and sends until EOF, the first bad line, or ctx ends.
// It always closes the sink, so what was sent before an error is flushed.
func Run(ctx context.Context, in io.Reader, o Options, sink Sink) (Result, error) {
	res, err := run(ctx, in, o, sink)
	if d, ok := sink.(interface{ Discard() }); ok && err != nil {
		d.Discard() // all-or-nothing sinks write nothing after bad input
	}
	cres, cerr := sink.Close(context.WithoutCancel(ctx))
	if err == nil {
		err = cerr
	}
	cres.BadLines, cres.BadLineNumbers = res.BadLines, res.BadLineNumbers
	if err == nil && res.BadLines > 0 {
		err = errs.Failedf("%d input line(s) could not be encoded and were skipped (--keep-going): %s", res.BadLines, lineList(res.BadLineNumbers, res.BadLines))
	}
	return cres, err
}

// lineList names the first skipped lines: "lines 3, 7 and 9", or
// "lines 3, 7, ... (and 120 more)".
func lineList(nums []int, total int64) string {
	parts := make([]string, len(nums))
	for i, n := range nums {
		parts[i] = strconv.Itoa(n)
	}
	s := "line " + strings.Join(parts, ", ")
	if len(nums) > 1 {
		s = "lines " + strings.Join(parts[:len(parts)-1], ", ") + " and " + parts[len(parts)-1]
	}
	if more := total - int64(len(nums)); more > 0 {
		s = "lines " + strings.Join(parts, ", ") + fmt.Sprintf(" and %d more", more)
	}
	return s
}

// maxBadLineNumbers bounds the line numbers kept for the summary.
const maxBadLineNumbers = 100

// holder is a sink that keeps the *Out it is sent (and what its slices
// point to) until it calls m.release(), once for each message sent.
type holder interface {
	holds()
}

// chunk is a run of input lines encoded by one worker; chunks are sent to
// the sink in input order, so per-key order and line numbers are kept.
// With a holder sink, a chunk whose messages are all released is used again
// (its buffers, messages and records), so a stream allocates little.
type chunk struct {
	nums  []int
	data  []byte // the lines' bytes, back to back
	ends  []int  // where each line ends in data
	lines [][]byte
	outs  []Out
	recs  []sinkRecord  // the outs' records (holder sinks)
	bad   []*InputError // lines skipped under KeepGoing, in order
	err   error
	done  chan struct{}
	// slab holds the keys and values LineEncoder wrote for these lines
	slab []byte
	// pending counts the messages a holder sink keeps, plus one while
	// run sends them; at zero the chunk goes back to free
	pending atomic.Int64
	free    chan *chunk
}

// release is called by a holder sink for each message it is done with.
func (m *Out) release() {
	if ch := m.owner; ch != nil {
		ch.release()
	}
}

func (ch *chunk) release() {
	if ch.pending.Add(-1) != 0 {
		return
	}
	select {
	case ch.free <- ch:
	default: // enough spare chunks
	}
}

// reset empties a released chunk for new lines.
func (ch *chunk) reset() {
	ch.nums, ch.data, ch.ends = ch.nums[:0], ch.data[:0], ch.ends[:0]
	ch.lines, ch.outs, ch.bad, ch.err = ch.lines[:0], ch.outs[:0], nil, nil
	ch.slab = ch.slab[:0]
	ch.done = make(chan struct{})
}

const chunkLines = 256

func run(ctx context.Context, in io.Reader, o Options, sink Sink) (Result, error) {
	var res Result
	if o.MaxLine <= 0 {
		o.MaxLine = 64 << 20
	}
	mode := o.Input
	if mode == "" {
		mode = InputAuto
	}
	if o.KeyDelim != "" && mode == InputEnvelope {
		return res, errs.Usagef("-K and --input envelope cannot be combined")
	}
	if o.KeyDelim != "" {
		mode = InputJSON
	}
	workers := o.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	work := make(chan *chunk, workers*2)
	order := make(chan *chunk, workers*4)
	var wg sync.WaitGroup
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			enc := &encoderCache{o: o, specs: map[string]*topicSpec{}}
			for ch := range work {
				if cap(ch.outs) < len(ch.lines) {
					ch.outs = make([]Out, 0, len(ch.lines))
				}
				enc.slab = ch.slab[:0]
				for i, b := range ch.lines {
					ch.outs = append(ch.outs, Out{Line: ch.nums[i], Partition: -1})
					out := &ch.outs[len(ch.outs)-1]
					var err error
					if mode == InputEnvelope {
						err = enc.fromEnvelope(cctx, b, out)
					} else {
						err = enc.fromLine(cctx, b, out)
					}
					if err != nil {
						ch.outs = ch.outs[:len(ch.outs)-1]
						if o.KeepGoing && skippable(err) {
							ch.bad = append(ch.bad, &InputError{Line: ch.nums[i], Err: err})
							continue
						}
						ch.err = errs.Failed(&InputError{Line: ch.nums[i], Err: err})
						break
					}
				}
				ch.slab, enc.slab = enc.slab, nil
				close(ch.done)
			}
		}()
	}
	defer wg.Wait()

	_, holds := sink.(holder)
	// released chunks (holder sinks): Kafka acknowledges many at once, and
	// as many come back as were in flight (those dropped here are garbage)
	free := make(chan *chunk, 256)
	// the lines' bytes are done with once encoded (messages never point
	// into them): their buffers go back to the reader at once, so only the
	// chunks being read or encoded hold input
	freeData := make(chan []byte, workers*2+4)
	newChunk := func() *chunk {
		select {
		case ch := <-free:
			ch.reset()
			return ch
		default:
		}
		return &chunk{done: make(chan struct{}), free: free}
	}
	var readErr error
	go func() {
		defer close(order)
		defer close(work)
		sc := bufio.NewScanner(in)
		sc.Buffer(make([]byte, 0, 1<<20), o.MaxLine)
		var read int64
		line := 0
		cur := newChunk()
		flush := func() bool {
			if len(cur.ends) == 0 {
				return true
			}
			start := 0
			for _, end := range cur.ends {
				cur.lines = append(cur.lines, cur.data[start:end:end])
				start = end
			}
			select {
			case order <- cur:
			case <-cctx.Done():
				return false
			}
			select {
			case work <- cur:
			case <-cctx.Done():
				close(cur.done)
				return false
			}
			cur = newChunk()
			return true
		}
		for sc.Scan() {
			line++
			b := sc.Bytes()
			read += int64(len(b)) + 1
			if o.OnRead != nil {
				o.OnRead(line, read)
			}
			if len(bytes.TrimSpace(b)) == 0 && (!o.TombstoneEmpty || o.KeyDelim != "") {
				continue // blank lines separate nothing
			}
			if mode == InputAuto {
				mode = InputJSON
				if t := bytes.TrimSpace(b); len(t) > 0 && t[0] == '{' && envelope.LooksLikeEnvelope(t) {
					mode = InputEnvelope
				}
			}
			cur.nums = append(cur.nums, line)
			if cap(cur.data) == 0 {
				select {
				case cur.data = <-freeData:
				default:
					cur.data = make([]byte, 0, min(chunkLines*(len(b)+16), 1<<20))
				}
			}
			cur.data = append(cur.data, b...)
			cur.ends = append(cur.ends, len(cur.data))
			if len(cur.ends) >= chunkLines && !flush() {
				return
			}
		}
		if err := sc.Err(); err != nil {
			if errors.Is(err, bufio.ErrTooLong) {
				readErr = errs.Failed(&InputError{Line: line + 1, Err: fmt.Errorf("line longer than %d bytes", o.MaxLine)})
			} else {
				readErr = errs.Failedf("read input: %w", err)
			}
		}
		flush()
	}()

	fail := func(err error) (Result, error) {
		cancel()
		for ch := range order { // let the reader and workers finish
			<-ch.done
		}
		return res, err
	}
	for ch := range order {
		<-ch.done
		select {
		case freeData <- ch.data[:0]:
		default:
		}
		ch.data, ch.lines = nil, ch.lines[:0]
		if ctx.Err() != nil {
			return fail(ctx.Err())
		}
		if holds {
			ch.pending.Store(int64(len(ch.outs)) + 1)
			if cap(ch.recs) < len(ch.outs) {
				ch.recs = make([]sinkRecord, len(ch.outs), max(len(ch.outs), chunkLines))
			}
			ch.recs = ch.recs[:len(ch.outs)]
		}
		for i := range ch.outs {
			if holds {
				ch.outs[i].owner, ch.outs[i].rec = ch, &ch.recs[i]
			}
			if err := sink.Send(ctx, &ch.outs[i]); err != nil {
				return fail(err)
			}
		}
		for _, b := range ch.bad {
			res.BadLines++
			if len(res.BadLineNumbers) < maxBadLineNumbers {
				res.BadLineNumbers = append(res.BadLineNumbers, b.Line)
			}
			if o.OnBadLine != nil {
				o.OnBadLine(b)
			}
		}
		if ch.err != nil {
			return fail(ch.err)
		}
		if holds {
			ch.release()
		}
	}
	if ctx.Err() != nil {
		return res, ctx.Err()
	}
	return res, readErr
}

// skippable says whether --keep-going may skip a line that failed with err:
// bad input yes; an unreachable registry or a usage error (which every
// following line would hit too) no.
func skippable(err error) bool {
	k := errs.KindOf(err)
	return k != errs.KindUsage && k != errs.KindUnavailable
}

type topicSpec struct {
	topic  string
	spec   encode.Spec
	encode bool // false: raw bytes
	// line is the spec compiled for JSON lines (nil: none, or it left too
	// many lines to Encode); tried and left count them
	line        *encode.LineEncoder
	tried, left int
}

// LineEncoders is what an Encoder offers when it can compile a spec for
// JSON lines (encode.Engine does).
type LineEncoders interface {
	NewLineEncoder(s encode.Spec) *encode.LineEncoder
}

type encoderCache struct {
	o     Options
	specs map[string]*topicSpec
	last  *topicSpec // the last one looked up
	// slab is the current chunk's (LineEncoder.Append writes the encoded
	// keys and values there): one allocation for many messages, none once
	// chunks are used again. A full one is replaced and left to the garbage
	// collector (earlier messages still point into it).
	slab []byte
}

// slabSize is the size of a fresh slab (a small-object size class).
const slabSize = 32 << 10

func (c *encoderCache) spec(topic string) *topicSpec {
	if c.last != nil && c.last.topic == topic {
		return c.last // a stream has one topic: no hashing
	}
	if ts, ok := c.specs[topic]; ok {
		c.last = ts
		return ts
	}
	ts := &topicSpec{topic: topic}
	if c.o.Encoder != nil {
		var ok bool
		if c.o.SpecOverride != nil {
			ts.spec, ok = c.o.SpecOverride(topic)
		} else {
			ts.spec, ok = c.o.Encoder.SpecFor(topic)
		}
		ts.encode = ok || ts.spec.Schema != ""
		if le, ok := c.o.Encoder.(LineEncoders); ok && ts.encode {
			ts.line = le.NewLineEncoder(ts.spec)
		}
	}
	c.specs[topic], c.last = ts, ts
	return ts
}

func (c *encoderCache) topic(t string) (string, error) {
	if c.o.Topic != "" {
		return c.o.Topic, nil
	}
	if t == "" {
		return "", fmt.Errorf("no topic: use -t TOPIC (or envelope lines with a topic)")
	}
	return t, nil
}

// fromLine handles a JSON-lines or -K line.
func (c *encoderCache) fromLine(ctx context.Context, b []byte, out *Out) error {
	topic, err := c.topic("")
	if err != nil {
		return err
	}
	out.Topic = topic
	out.Partition = c.o.Partition
	out.Headers = c.o.Headers
	value := b
	var key []byte
	hasKey := false
	if c.o.KeyDelim != "" {
		i := bytes.Index(b, []byte(c.o.KeyDelim))
		if i < 0 {
			return fmt.Errorf("no key delimiter %q in line", c.o.KeyDelim)
		}
		key, value, hasKey = b[:i], b[i+len(c.o.KeyDelim):], true
	}
	if c.o.Key != nil {
		key, hasKey = []byte(*c.o.Key), true
	}
	ts := c.spec(topic)
	tomb := c.o.TombstoneEmpty && len(value) == 0
	if !ts.encode {
		if hasKey && len(key) > 0 { // an empty key is no key
			out.Key = c.copyBytes(key)
		}
		if !tomb {
			out.Value = c.copyBytes(value) // never nil: nil is a tombstone
		}
		return nil
	}
	if ts.line != nil && !hasKey && !tomb {
		if c.appendLine(ts, value, out) {
			return nil
		}
	}
	m := encode.Message{}
	// The line is text: the plain backend sends it as it is (encode.Text),
	// every other backend reads it as JSON. Schema backends reject what is not
	// JSON themselves, so the line is checked only when encoding fails (same
	// message, one parse less); the json backend (or an unnamed one) is
	// checked first.
	plain := ts.spec.Backend == "plain"
	precheck := ts.spec.Backend == "" || ts.spec.Backend == "json"
	if !tomb {
		if precheck && !json.Valid(value) {
			return fmt.Errorf("invalid JSON: %s", jsonErr(value))
		}
		m.Value = encode.Text(value) // the chunk's own copy of the line; Encode keeps none of it
	}
	if hasKey {
		m.Key = string(key)
	}
	e, err := c.o.Encoder.Encode(ctx, ts.spec, m)
	if err != nil {
		if !tomb && !precheck && !plain && !json.Valid(value) {
			return fmt.Errorf("invalid JSON: %s", jsonErr(value))
		}
		return err
	}
	out.Topic, out.Key, out.Value, out.PartitionKey = e.Topic, e.Key, e.Value, e.PartitionKey
	return nil
}

// appendLine encodes a line through the topic's LineEncoder into the slab,
// when it takes the line. A LineEncoder that leaves most lines to Encode
// (data it has no fast way for) is dropped: trying costs a partial scan.
func (c *encoderCache) appendLine(ts *topicSpec, line []byte, out *Out) bool {
	need := 2*len(line) + 64
	if need > maxSlabPart {
		return false
	}
	c.room(need)
	slab, r, ok := ts.line.Append(c.slab, line)
	ts.tried++
	if !ok {
		if ts.left++; ts.tried >= 64 && ts.left*2 > ts.tried {
			ts.line = nil
		}
		return false
	}
	c.slab = slab
	out.Topic, out.Key, out.Value, out.PartitionKey = r.Topic, r.Key, r.Value, r.PartitionKey
	return true
}

// maxSlabPart is the largest message part kept in a slab; larger ones get
// their own buffer, so that a reused chunk does not keep a huge slab.
const maxSlabPart = 4 * slabSize

// room makes sure the slab has n bytes free. A chunk keeps its last slab:
// a full one is replaced by one half as large again, so a reused chunk's
// soon holds all of its lines.
func (c *encoderCache) room(n int) {
	if cap(c.slab)-len(c.slab) < n {
		c.slab = make([]byte, 0, max(slabSize, n, cap(c.slab)+cap(c.slab)/2))
	}
}

// copyBytes copies b into the slab (a non-nil, capped part of it).
func (c *encoderCache) copyBytes(b []byte) []byte {
	if len(b) > maxSlabPart {
		return append([]byte{}, b...)
	}
	c.room(len(b))
	at := len(c.slab)
	c.slab = append(c.slab, b...)
	return c.slab[at:len(c.slab):len(c.slab)]
}

// fromEnvelope handles one envelope line: key, value, headers, partition
// and timestamp are kept exactly.
func (c *encoderCache) fromEnvelope(ctx context.Context, b []byte, out *Out) error {
	var env envelope.Envelope
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(&env); err != nil {
		return fmt.Errorf("invalid envelope JSON: %v", err)
	}
	// A record that could not be decoded carries its exact bytes in base64
	// (and an "error" field): it is sent as those bytes.
	topic, err := c.topic(env.Topic)
	if err != nil {
		return err
	}
	out.Topic = topic
	if c.o.Partition >= 0 {
		out.Partition = c.o.Partition
	} else if env.Partition != nil && !c.o.IgnorePartition {
		out.Partition = *env.Partition
	}
	if out.Timestamp, err = env.Time(); err != nil {
		return fmt.Errorf("timestamp: %v", err)
	}
	out.Headers = append(out.Headers, c.o.Headers...)
	for _, h := range env.Headers {
		v, err := h.HeaderBytes()
		if err != nil {
			return err
		}
		out.Headers = append(out.Headers, Header{Key: h.Key, Value: v})
	}
	kp, err := envelope.ParsePart(env.Key, env.KeyEncoding)
	if err != nil {
		return fmt.Errorf("key: %v", err)
	}
	vp, err := envelope.ParsePart(env.Value, env.ValueEncoding)
	if err != nil {
		return fmt.Errorf("value: %v", err)
	}
	if c.o.SchemaIDs && (env.KeySchemaID > 0 && kp.JSON != nil || env.ValueSchemaID > 0 && vp.JSON != nil) {
		return c.byIDs(ctx, &env, kp, vp, out)
	}
	ts := c.spec(topic)
	if !ts.encode || (vp.JSON == nil && kp.JSON == nil) {
		out.Key = partBytes(kp)
		out.Value = partBytes(vp)
		return nil
	}
	m := encode.Message{}
	if vp.JSON != nil {
		m.Value = vp.JSON
	}
	if kp.JSON != nil {
		m.Key = json.RawMessage(kp.JSON) // the engine parses it, keeping the order of its maps
	}
	e, err := c.o.Encoder.Encode(ctx, ts.spec, m)
	if err != nil {
		return err
	}
	out.Topic, out.PartitionKey = e.Topic, e.PartitionKey
	out.Key, out.Value = e.Key, e.Value
	if kp.JSON == nil { // null or verbatim bytes: exactly as the envelope says
		out.Key, out.PartitionKey = partBytes(kp), nil
	}
	if vp.JSON == nil {
		out.Value = partBytes(vp)
	}
	return nil
}

// byIDs encodes the parts of an envelope that carry a schema id with that
// registry schema; the other parts are sent as their bytes (a key or value
// without an id was not decoded through the registry: its JSON, string or
// base64 form is exactly its bytes).
func (c *encoderCache) byIDs(ctx context.Context, env *envelope.Envelope, kp, vp envelope.Part, out *Out) error {
	ide, ok := c.o.Encoder.(IDEncoder)
	if !ok {
		return errs.Usagef("envelope schema ids need the registry encoder")
	}
	out.Key, out.Value = partBytes(kp), partBytes(vp)
	if env.KeySchemaID > 0 && kp.JSON != nil {
		b, err := ide.EncodeWithID(ctx, env.KeySchemaID, kp.JSON)
		if err != nil {
			return fmt.Errorf("key (key_schema_id %d): %w", env.KeySchemaID, err)
		}
		out.Key = b
		// the partitioner hashes the key's string form, as when produce
		// encodes a key per the topic (a Deimos field key: the field's value)
		if k, err := encode.ParseJSON(kp.JSON); err == nil {
			out.PartitionKey = []byte(encode.StringForm(k))
		}
	}
	if env.ValueSchemaID > 0 && vp.JSON != nil {
		b, err := ide.EncodeWithID(ctx, env.ValueSchemaID, vp.JSON)
		if err != nil {
			return fmt.Errorf("value (value_schema_id %d): %w", env.ValueSchemaID, err)
		}
		out.Value = b
	}
	return nil
}

func partBytes(p envelope.Part) []byte {
	switch {
	case p.Null:
		return nil
	case p.JSON != nil:
		return append([]byte(nil), p.JSON...)
	case p.Bytes == nil:
		return []byte{}
	}
	return p.Bytes
}

func jsonErr(b []byte) string {
	var v any
	err := json.Unmarshal(b, &v)
	if err == nil {
		return "unknown"
	}
	return err.Error()
}
