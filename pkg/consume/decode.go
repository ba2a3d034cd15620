package consume

import (
	"bytes"
	"context"
	"encoding/base64"
	"runtime"
	"sync"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/deimos-cli/deimos/internal/jsonesc"
	"github.com/deimos-cli/deimos/pkg/encode"
	"github.com/deimos-cli/deimos/pkg/envelope"
)

// Decoding: polled records into Records through the encode engine, in
// parallel for large batches (order kept), one spec per topic cached.

// topicSpec is a topic's spec, and what the engine worked out of it for
// AppendJSON (nil without a jsonAppender).
type topicSpec struct {
	encode.Spec
	fast *encode.FastSpec
}

// specCache holds each topic's spec, one map per decode worker, and the
// memory decodeAll reuses when batches are not kept by the handler.
type specCache struct {
	per    []map[string]*topicSpec
	arenas [][]byte
	batch  []Record
}

func newSpecCache() *specCache {
	n := runtime.GOMAXPROCS(0)
	c := &specCache{per: make([]map[string]*topicSpec, n), arenas: make([][]byte, n)}
	for i := range c.per {
		c.per[i] = map[string]*topicSpec{}
	}
	return c
}

// fresh makes the next decodeAll allocate new memory for everything it
// returns.
func (c *specCache) fresh() {
	c.batch = nil
	clear(c.arenas)
}

// reuseChunk is how many records decodeHandle decodes and hands on at a
// time when the handler keeps nothing (the printer): a chunk's records,
// their decoded parts and the output they make stay in the CPU cache
// between decoding and printing, where a whole poll (up to 10000 records,
// megabytes) would have left it.
const reuseChunk = 256

// decodeHandle decodes recs and hands them to o.Handler, counting records
// and decode errors into st. A handler that keeps nothing gets them in
// chunks of reuseChunk (its output is flushed after each Handle call, or
// once after the last chunk for a chunkHandler, so a commit after the poll
// still follows everything it covers).
func decodeHandle(ctx context.Context, o Options, specs *specCache, recs []*kgo.Record, st *Stats) error {
	step := len(recs)
	handle := o.Handler.Handle
	var ch chunkHandler
	if o.ReuseBatches {
		step = reuseChunk
		if ch, _ = o.Handler.(chunkHandler); ch != nil {
			handle = ch.HandleChunk
		}
	}
	for lo := 0; lo < len(recs); lo += step {
		batch := decodeAll(ctx, o.Decoder, specs, recs[lo:min(lo+step, len(recs))])
		for i := range batch {
			if batch[i].DecodeErr != nil {
				st.DecodeErrors++
			}
		}
		if err := handle(ctx, batch); err != nil {
			return err
		}
		st.Records += int64(len(batch))
	}
	if ch != nil && len(recs) > 0 {
		return ch.Flush()
	}
	return nil
}

// chunkHandler is a handler that writes through a buffer (the printer):
// decodeHandle gives it a poll's chunks with HandleChunk, which need not
// flush, and calls Flush after the last one, so the poll goes out in large
// writes and still before anything is committed.
type chunkHandler interface {
	Handler
	HandleChunk(ctx context.Context, batch []Record) error
	Flush() error
}

// minParallelDecode is the smallest batch worth splitting across cores.
const minParallelDecode = 512

// appendDecoder is implemented by the encode engine: Decode into a buffer
// the caller provides (one allocation per batch instead of per record).
type appendDecoder interface {
	DecodeAppend(ctx context.Context, s encode.Spec, key, value, dst []byte) (encode.Decoded, []byte, error)
}

// jsonAppender is implemented by the encode engine: DecodeAppend's Key and
// Value alone, for the records its fast path serves (ok false: nothing was
// appended, DecodeAppend decodes the record).
type jsonAppender interface {
	FastSpec(s encode.Spec) *encode.FastSpec
	AppendJSON(ctx context.Context, fs *encode.FastSpec, key, value, dst []byte) (k, v, out []byte, ok bool)
}

// decodeAll decodes recs in order. Large batches are
// split into contiguous runs decoded on all cores; positions are kept, so
// the handler sees exactly the order a sequential decode gives.
func decodeAll(ctx context.Context, dec Decoder, specs *specCache, recs []*kgo.Record) []Record {
	if len(recs) == 0 {
		return nil
	}
	if cap(specs.batch) < len(recs) {
		specs.batch = make([]Record, len(recs))
	}
	batch := specs.batch[:len(recs)]
	workers := len(specs.per)
	if dec == nil || workers < 2 || len(recs) < minParallelDecode {
		d := newRecordDecoder(dec, specs.per[0], recs, specs.arenas[0])
		for i, r := range recs {
			d.decode(ctx, r, &batch[i])
		}
		specs.arenas[0] = d.arena[:0]
		return batch
	}
	var wg sync.WaitGroup
	per := (len(recs) + workers - 1) / workers
	for w := 0; w < workers; w++ {
		lo, hi := w*per, min((w+1)*per, len(recs))
		if lo >= hi {
			break
		}
		wg.Add(1)
		go func(w, lo, hi int) {
			defer wg.Done()
			d := newRecordDecoder(dec, specs.per[w], recs[lo:hi], specs.arenas[w])
			for i := lo; i < hi; i++ {
				d.decode(ctx, recs[i], &batch[i])
			}
			specs.arenas[w] = d.arena[:0]
		}(w, lo, hi)
	}
	wg.Wait()
	return batch
}

// recordDecoder decodes the records of one run; with an appendDecoder the
// decoded parts of all its records share one fresh arena (records keep
// pointing into it: it is never reused).
type recordDecoder struct {
	dec Decoder
	// last is the spec of the last record's topic, lastTopic that topic
	last      *topicSpec
	lastTopic string
	app       appendDecoder
	js        jsonAppender
	specs     map[string]*topicSpec
	arena     []byte
	sized     bool
	recs      []*kgo.Record // the run (to size the arena)
}

// newRecordDecoder decodes recs; arena (nil: a fresh one) is where decoded
// parts go.
func newRecordDecoder(dec Decoder, specs map[string]*topicSpec, recs []*kgo.Record, arena []byte) *recordDecoder {
	d := &recordDecoder{dec: dec, specs: specs, recs: recs, arena: arena[:0], sized: arena != nil}
	d.app, _ = dec.(appendDecoder)
	if d.app != nil {
		d.js, _ = dec.(jsonAppender)
	}
	return d
}

// toRecord decodes one record; errors are kept on the record, never dropped.
func toRecord(ctx context.Context, dec Decoder, specs map[string]*topicSpec, r *kgo.Record) Record {
	var rec Record
	newRecordDecoder(dec, specs, nil, nil).decode(ctx, r, &rec)
	return rec
}

// decode decodes r into *rec (every field is set).
func (d *recordDecoder) decode(ctx context.Context, r *kgo.Record, rec *Record) {
	dec := d.dec
	*rec = Record{
		Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, Timestamp: r.Timestamp,
		RawKey: r.Key, RawValue: r.Value,
	}
	if len(r.Headers) > 0 {
		rec.Headers = make([]Header, len(r.Headers))
		for i, h := range r.Headers {
			rec.Headers[i] = Header{Key: h.Key, Value: h.Value}
		}
	}
	rawParts := func() {
		rec.Key, rec.KeyEncoding = envelope.Repr(r.Key)
		rec.Value, rec.ValueEncoding = envelope.Repr(r.Value)
	}
	if dec == nil {
		rawParts()
		return
	}
	sp := d.last
	if sp == nil || r.Topic != d.lastTopic {
		if sp = d.specs[r.Topic]; sp == nil {
			s, ok := dec.SpecFor(r.Topic)
			if !ok {
				s = encode.Spec{}
			}
			sp = &topicSpec{Spec: s}
			if d.js != nil {
				sp.fast = d.js.FastSpec(s)
			}
			d.specs[r.Topic] = sp
		}
		d.last, d.lastTopic = sp, r.Topic
	}
	// Bytes starting 0x00 but shorter than a Confluent header (magic + 4-byte
	// schema id) cannot be registry-framed: when the part would be
	// auto-detected, they are plain binary data, shown as base64 (no error).
	key, value := r.Key, r.Value
	zero := sp.Backend == "" && sp.Schema == ""
	if unframable(key) && (zero || sp.KeyConfig.Mode() == "" || sp.KeyConfig.Mode() == "none") {
		key = nil
	}
	if unframable(value) && zero {
		value = nil
	}
	if d.app != nil && !d.sized {
		// decoded JSON is under twice the Avro bytes: size the arena once
		// (a reused arena keeps the capacity it grew to)
		n := 0
		for _, x := range d.recs {
			n += len(x.Key) + len(x.Value)
		}
		d.arena, d.sized = make([]byte, 0, 2*n+256), true
	}
	if sp.fast != nil && (key == nil) == (r.Key == nil) && (value == nil) == (r.Value == nil) {
		// the common case, without building the formats pick would read
		var k, v []byte
		var ok bool
		if k, v, d.arena, ok = d.js.AppendJSON(ctx, sp.fast, key, value, d.arena); ok {
			if k != nil {
				rec.Key, rec.KeyEncoding = k, envelope.EncJSON
			}
			if v != nil {
				rec.Value, rec.ValueEncoding = v, envelope.EncJSON
			}
			return
		}
	}
	var dd encode.Decoded
	var err error
	if d.app != nil {
		dd, d.arena, err = d.app.DecodeAppend(ctx, sp.Spec, key, value, d.arena)
	} else {
		dd, err = dec.Decode(ctx, sp.Spec, key, value)
	}
	if err != nil {
		rec.DecodeErr = err
		rec.Key, rec.KeyEncoding = base64Repr(r.Key)
		rec.Value, rec.ValueEncoding = base64Repr(r.Value)
		return
	}
	rec.Key, rec.KeyEncoding = pick(dd.Key, dd.KeyFormat, r.Key)
	rec.Value, rec.ValueEncoding = pick(dd.Value, dd.ValueFormat, r.Value)
}

func unframable(b []byte) bool { return len(b) > 0 && len(b) < 5 && b[0] == 0 }

// pick keeps a schema-decoded part as JSON and represents unframed bytes
// (JSON text, plain text, binary) losslessly from the bytes themselves.
func pick(decoded []byte, f encode.Format, raw []byte) ([]byte, string) {
	if raw == nil {
		return nil, ""
	}
	switch f.Wire {
	case "json":
		// The decoder read the text as JSON: when its JSON is the text
		// itself, only compactness is left to check (saves two passes per
		// record on the table sink's path).
		if len(raw) > 0 && bytes.Equal(decoded, raw) && !envelope.SpaceOutsideStrings(raw) {
			return raw, envelope.EncJSON
		}
		return envelope.Repr(raw)
	case "", "plain", "binary":
		return envelope.Repr(raw)
	}
	if decoded == nil {
		return envelope.Repr(raw)
	}
	return decoded, envelope.EncJSON
}

func base64Repr(b []byte) ([]byte, string) {
	if b == nil {
		return nil, ""
	}
	return jsonesc.AppendString(nil, b64(b)), envelope.EncBase64
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
