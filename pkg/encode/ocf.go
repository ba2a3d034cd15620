package encode

import (
	"bytes"
	"compress/flate"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/deimos-cli/deimos/pkg/avro"
)

// Avro Object Container Files, as Deimos's avro_local backend writes them:
// one file per message, null codec, one block holding the datum.

var ocfMagic = []byte("Obj\x01")

func appendLong(b []byte, v int64) []byte { return binary.AppendVarint(b, v) }

func appendAvroString(b []byte, s string) []byte {
	b = appendLong(b, int64(len(s)))
	return append(b, s...)
}

// ocfWrite wraps one encoded datum into a container file.
func ocfWrite(schema string, datum []byte) []byte {
	b := make([]byte, 0, 64+len(schema)+len(datum))
	b = append(b, ocfMagic...)
	b = appendLong(b, 2)
	b = appendAvroString(b, "avro.schema")
	b = appendAvroString(b, schema)
	b = appendAvroString(b, "avro.codec")
	b = appendAvroString(b, "null")
	b = appendLong(b, 0)
	var sync [16]byte
	_, _ = rand.Read(sync[:])
	b = append(b, sync[:]...)
	b = appendLong(b, 1)
	b = appendLong(b, int64(len(datum)))
	b = append(b, datum...)
	return append(b, sync[:]...)
}

type ocfFile struct {
	schema     string
	codec      string
	blocks     [][]byte // decompressed block data
	counts     []int64
	headerSize int
}

type byteReader struct {
	b   []byte
	off int
}

var errTruncated = errors.New("truncated")

func (r *byteReader) long() (int64, error) {
	v, n := binary.Varint(r.b[r.off:])
	if n <= 0 {
		return 0, errTruncated
	}
	r.off += n
	return v, nil
}

func (r *byteReader) bytes() ([]byte, error) {
	n, err := r.long()
	if err != nil {
		return nil, err
	}
	if n < 0 || int64(len(r.b)-r.off) < n {
		return nil, errTruncated
	}
	out := r.b[r.off : r.off+int(n)]
	r.off += int(n)
	return out, nil
}

// maxOCFBlock bounds a block after deflate: deflate expands up to ~1000x,
// so a 64 KiB message could otherwise ask for 64 MiB and more.
const maxOCFBlock = 64 << 20

// ocfRead parses a container file.
func ocfRead(b []byte) (*ocfFile, error) {
	if !bytes.HasPrefix(b, ocfMagic) {
		return nil, fmt.Errorf("not an Avro container file (no Obj\\x01 magic)")
	}
	r := &byteReader{b: b, off: 4}
	f := &ocfFile{codec: "null"}
	meta := map[string][]byte{}
	for {
		n, err := r.long()
		if err != nil {
			return nil, fmt.Errorf("Avro container file: truncated header")
		}
		if n == 0 {
			break
		}
		if n < 0 {
			n = -n
			if _, err := r.long(); err != nil {
				return nil, fmt.Errorf("Avro container file: truncated header")
			}
		}
		if n > int64(len(b)) {
			return nil, fmt.Errorf("Avro container file: corrupt header")
		}
		for i := int64(0); i < n; i++ {
			k, err := r.bytes()
			if err != nil {
				return nil, fmt.Errorf("Avro container file: truncated header")
			}
			v, err := r.bytes()
			if err != nil {
				return nil, fmt.Errorf("Avro container file: truncated header")
			}
			meta[string(k)] = v
		}
	}
	if len(b)-r.off < 16 {
		return nil, fmt.Errorf("Avro container file: truncated header (no sync marker)")
	}
	sync := b[r.off : r.off+16]
	r.off += 16
	f.headerSize = r.off
	f.schema = string(meta["avro.schema"])
	if c := meta["avro.codec"]; len(c) > 0 {
		f.codec = string(c)
	}
	if f.schema == "" {
		return nil, fmt.Errorf("Avro container file: no avro.schema in the header")
	}
	switch f.codec {
	case "null", "deflate":
	default:
		return nil, fmt.Errorf("Avro container file: unsupported codec %q (null and deflate are supported)", f.codec)
	}
	for r.off < len(b) {
		count, err := r.long()
		if err != nil || count < 0 {
			return nil, fmt.Errorf("Avro container file: corrupt block")
		}
		data, err := r.bytes()
		if err != nil {
			return nil, fmt.Errorf("Avro container file: truncated block")
		}
		if len(b)-r.off < 16 || !bytes.Equal(b[r.off:r.off+16], sync) {
			return nil, fmt.Errorf("Avro container file: bad sync marker after a block")
		}
		r.off += 16
		if f.codec == "deflate" {
			d, err := io.ReadAll(io.LimitReader(flate.NewReader(bytes.NewReader(data)), maxOCFBlock+1))
			if err != nil {
				return nil, fmt.Errorf("Avro container file: deflate: %v", err)
			}
			if len(d) > maxOCFBlock {
				return nil, fmt.Errorf("Avro container file: a deflated block expands to more than %d MiB", maxOCFBlock>>20)
			}
			data = d
		}
		f.blocks = append(f.blocks, data)
		f.counts = append(f.counts, count)
	}
	return f, nil
}

// maxOCFSchemas bounds the cache of container-file writer schemas: a topic's
// files normally all carry the same schema, while hostile or random input
// must not grow the cache without limit.
const maxOCFSchemas = 64

// ocfWriter parses a container file's writer schema, cached by its text:
// parsing it costs far more than decoding one datum.
func (e *Engine) ocfWriter(text string) (*avroSchema, error) {
	e.mu.Lock()
	w, ok := e.ocf[text]
	e.mu.Unlock()
	if ok {
		return w, nil
	}
	t, err := new(avro.Parser).Parse("container file schema", []byte(text))
	if err != nil {
		return nil, fmt.Errorf("Avro container file: schema: %w", err)
	}
	if w, err = newAvroSchema(t); err != nil {
		return nil, fmt.Errorf("Avro container file: %w", err)
	}
	e.mu.Lock()
	if e.ocf == nil || len(e.ocf) >= maxOCFSchemas {
		e.ocf = map[string]*avroSchema{}
	}
	e.ocf[text] = w
	e.mu.Unlock()
	return w, nil
}
