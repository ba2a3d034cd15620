package encode

import (
	"bytes"
	"compress/flate"
	"context"
	"strings"
	"testing"
)

// deflateOCF builds a container file with the deflate codec and one block.
func deflateOCF(t *testing.T, schema string, count int64, datum []byte) []byte {
	t.Helper()
	var z bytes.Buffer
	w, _ := flate.NewWriter(&z, flate.BestSpeed)
	if _, err := w.Write(datum); err != nil {
		t.Fatal(err)
	}
	w.Close()
	sync := bytes.Repeat([]byte{7}, 16)
	b := append([]byte(nil), ocfMagic...)
	b = appendLong(b, 2)
	b = appendAvroString(b, "avro.schema")
	b = appendAvroString(b, schema)
	b = appendAvroString(b, "avro.codec")
	b = appendAvroString(b, "deflate")
	b = appendLong(b, 0)
	b = append(b, sync...)
	b = appendLong(b, count)
	b = appendLong(b, int64(z.Len()))
	b = append(b, z.Bytes()...)
	return append(b, sync...)
}

func TestOCFDeflate(t *testing.T) {
	e := newTestEngine(t, nil, nil)
	ctx := context.Background()
	schema := `{"type":"record","name":"S","fields":[{"name":"s","type":"string"}]}`
	d, err := e.Decode(ctx, Spec{}, nil, deflateOCF(t, schema, 1, []byte("\x06abc")))
	if err != nil || string(d.Value) != `{"s":"abc"}` {
		t.Fatalf("deflate container file: %s %v", d.Value, err)
	}
	// A deflate bomb: ~65 KiB of message expanding past the 64 MiB bound
	// fails with a clear message instead of allocating without limit.
	bomb := deflateOCF(t, schema, 1, make([]byte, maxOCFBlock+1))
	if len(bomb) > 1<<20 {
		t.Fatalf("bomb is %d bytes", len(bomb))
	}
	_, err = e.Decode(ctx, Spec{}, nil, bomb)
	if err == nil || !strings.Contains(err.Error(), "a deflated block expands to more than 64 MiB") {
		t.Fatalf("deflate bomb: %v", err)
	}
}
