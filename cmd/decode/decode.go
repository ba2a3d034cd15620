// Package decode is the `deimos decode` command.
package decode

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/deimos-cli/deimos/cmd/encode"
	"github.com/deimos-cli/deimos/internal/cmdutil"
	"github.com/deimos-cli/deimos/pkg/config"
	pkgencode "github.com/deimos-cli/deimos/pkg/encode"
	"github.com/deimos-cli/deimos/pkg/errs"
)

// Options are the decode command's flags.
type Options struct {
	Schema, Namespace, Backend, Topic, Wire string
	InputEncoding                           string
	Explain, KeepGoing                      bool
	File                                    string
}

// NewCmd returns the `decode` command; runF replaces the run (tests).
func NewCmd(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	o := &Options{}
	c := &cobra.Command{
		Use:   "decode",
		Short: "Decode wire bytes into JSON, or explain a framed message",
		Long: `Decode reads what 'deimos encode' writes - one base64 (or hex) message per line,
or "KEY<TAB>VALUE" lines, or one raw message with --input-encoding raw - and
prints each message as a line of JSON ({"key":...,"value":...} when a key is present).

Without --schema/--backend/--topic the framing is detected: Confluent framing
(0x00 + schema id; the writer schema comes from the registry and is read with
the local schema of the same full name when schema.path has one), Avro object
container files, JSON, else plain text (non-UTF-8 bytes print as base64).
Bare Avro (--wire raw output) needs --schema.

--explain prints the wire layout of each message instead: framing, schema id,
subject and version, message indexes, header and payload sizes, and the payload.

Exit codes: 0 all decoded, 1 some input could not be decoded, 2 usage errors,
3 the schema registry could not be reached.`,
		Example: `  echo BmFiYxg= | deimos decode --schema com.acme.Simple
  deimos encode --schema Widget --wire confluent < w.json | deimos decode --explain
  deimos decode --input-encoding raw --explain < message.bin
  kcat -C -b localhost:9092 -t widgets -p 0 -o -1 -c 1 -e -q -f '%s' | deimos decode --input-encoding raw   # the last message of partition 0, as kcat reads it`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.validate(); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return run(cmd.Context(), f, o)
		},
	}
	fl := c.Flags()
	fl.StringVar(&o.Schema, "schema", "", "schema name (needed for bare Avro; otherwise the reader schema)")
	fl.StringVar(&o.Namespace, "namespace", "", "Avro namespace of --schema")
	fl.StringVar(&o.Backend, "backend", "", "schema backend: "+strings.Join(config.Backends, ", "))
	fl.StringVarP(&o.Topic, "topic", "t", "", "configured topic whose backend, schema and key_config to use")
	fl.StringVar(&o.Wire, "wire", "", "value framing: confluent, raw or ocf (default: detected)")
	fl.StringVar(&o.InputEncoding, "input-encoding", "base64", "input: base64 or hex (one message per line), or raw (all of stdin is one message)")
	fl.BoolVar(&o.Explain, "explain", false, "show the wire layout of each message with its payload")
	fl.BoolVar(&o.KeepGoing, "keep-going", false, "decode the remaining lines after a bad one; exit 1 at the end if any failed")
	fl.StringVarP(&o.File, "file", "f", "", "read input from FILE instead of stdin")
	return c
}

type rawMsg struct {
	line       int
	key, value []byte
	hasKey     bool
}

func decodeText(enc, s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	switch enc {
	case "base64":
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			if b2, err2 := base64.RawStdEncoding.DecodeString(s); err2 == nil {
				return b2, nil
			}
			if b2, err2 := base64.URLEncoding.DecodeString(s); err2 == nil {
				return b2, nil
			}
			return nil, fmt.Errorf("not valid base64: %v", err)
		}
		return b, nil
	case "hex":
		b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
		if err != nil {
			return nil, fmt.Errorf("not valid hex: %v", err)
		}
		return b, nil
	}
	return nil, errs.Usagef("--input-encoding: %q is not base64, hex or raw", enc)
}

// validate checks what the flags alone can tell.
func (o *Options) validate() error {
	switch o.InputEncoding {
	case "base64", "hex", "raw":
	default:
		return errs.Usagef("--input-encoding: %q is not base64, hex or raw", o.InputEncoding)
	}
	return nil
}

func run(ctx context.Context, f *cmdutil.Factory, o *Options) error {
	if ctx == nil {
		ctx = context.Background()
	}
	if err := o.validate(); err != nil {
		return err
	}
	e, _, err := encode.BuildEngine(f)
	if err != nil {
		return err
	}
	var s pkgencode.Spec
	if o.Topic != "" || o.Schema != "" || o.Backend != "" || o.Wire != "" {
		if s, err = encode.ResolveSpec(e, o.Topic, o.Schema, o.Namespace, o.Backend, o.Wire); err != nil {
			return err
		}
		if o.Wire == "confluent" && o.Backend == "" && o.Topic == "" {
			s.Backend = "avro_schema_registry"
		}
	}
	var in io.Reader = f.IO.In
	if o.File != "" && o.File != "-" {
		fh, err := os.Open(o.File)
		if err != nil {
			return errs.Usagef("%v", err)
		}
		defer fh.Close()
		in = fh
	}
	out := bufio.NewWriter(f.IO.Out)
	defer out.Flush()
	total, failed := 0, 0
	handle := func(m rawMsg, perr error) error {
		total++
		if perr == nil {
			perr = decodeOne(ctx, e, s, m, o.Explain, out)
		}
		if perr == nil {
			return nil
		}
		k := errs.KindOf(perr)
		if k == errs.KindUsage || k == errs.KindUnavailable {
			return perr
		}
		if !o.KeepGoing {
			return errs.Failedf("line %d: %v", m.line, perr)
		}
		failed++
		out.Flush()
		fmt.Fprintf(f.IO.ErrOut, "line %d: %v\n", m.line, perr)
		return nil
	}
	if o.InputEncoding == "raw" {
		b, err := io.ReadAll(in)
		if err != nil {
			return err
		}
		if err := handle(rawMsg{line: 1, value: b}, nil); err != nil {
			return err
		}
	} else {
		sc := bufio.NewScanner(in)
		sc.Buffer(make([]byte, 0, 64*1024), 64<<20)
		n := 0
		for sc.Scan() {
			n++
			text := strings.TrimRight(sc.Text(), "\r")
			if strings.TrimSpace(text) == "" {
				continue
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			m := rawMsg{line: n}
			var perr error
			vtext := text
			if i := strings.IndexByte(text, '\t'); i >= 0 {
				m.hasKey = true
				if kt := text[:i]; kt != "" {
					m.key, perr = decodeText(o.InputEncoding, kt)
				}
				vtext = text[i+1:]
			}
			if perr == nil && strings.TrimSpace(vtext) != "" {
				m.value, perr = decodeText(o.InputEncoding, vtext)
			}
			if err := handle(m, perr); err != nil {
				return err
			}
		}
		if err := sc.Err(); err != nil {
			return errs.Failedf("reading input: %v", err)
		}
	}
	if failed > 0 {
		return errs.Failedf("%d of %d messages could not be decoded", failed, total)
	}
	return nil
}

func decodeOne(ctx context.Context, e *pkgencode.Engine, s pkgencode.Spec, m rawMsg, explain bool, out *bufio.Writer) error {
	d, err := e.Decode(ctx, s, m.key, m.value)
	if err != nil {
		return err
	}
	if explain {
		writeExplain(out, m, d)
		return nil
	}
	val := []byte(d.Value)
	if val == nil {
		val = []byte("null")
	}
	if m.hasKey || m.key != nil {
		key := []byte(d.Key)
		if key == nil {
			key = []byte("null")
		}
		out.WriteString(`{"key":`)
		out.Write(key)
		out.WriteString(`,"value":`)
		out.Write(val)
		out.WriteString("}\n")
		return nil
	}
	out.Write(val)
	out.WriteByte('\n')
	return nil
}

func writeExplain(w *bufio.Writer, m rawMsg, d pkgencode.Decoded) {
	fmt.Fprintf(w, "message (line %d)\n", m.line)
	if m.hasKey || m.key != nil {
		explainPart(w, "key", m.key, d.KeyFormat, d.Key)
	}
	explainPart(w, "value", m.value, d.ValueFormat, d.Value)
}

func explainPart(w *bufio.Writer, part string, raw []byte, f pkgencode.Format, payload []byte) {
	if raw == nil {
		fmt.Fprintf(w, "  %s: none (%s)\n", part, map[string]string{"key": "no key", "value": "tombstone"}[part])
		return
	}
	fmt.Fprintf(w, "  %s: %d bytes\n", part, len(raw))
	switch f.Wire {
	case "confluent":
		fmt.Fprintf(w, "    framing:  confluent: magic 0x00, schema id %d (bytes 1-4: % x)", f.SchemaID, raw[1:5])
		if len(f.MessageIndexes) > 0 {
			fmt.Fprintf(w, ", message indexes %v", f.MessageIndexes)
		}
		fmt.Fprintf(w, "; header %d bytes\n", f.HeaderBytes)
	case "ocf":
		fmt.Fprintf(w, "    framing:  Avro object container file (magic Obj\\x01), header %d bytes\n", f.HeaderBytes)
	case "raw":
		fmt.Fprintf(w, "    framing:  none (bare Avro binary)\n")
	case "json":
		fmt.Fprintf(w, "    framing:  none (JSON text)\n")
	case "plain":
		fmt.Fprintf(w, "    framing:  none (plain text)\n")
	case "binary":
		fmt.Fprintf(w, "    framing:  none (binary, shown as base64)\n")
	default:
		fmt.Fprintf(w, "    framing:  %s\n", f.Wire)
	}
	if f.SchemaType != "" || f.Schema != "" {
		fmt.Fprintf(w, "    schema:   %s", f.SchemaType)
		if f.Schema != "" {
			fmt.Fprintf(w, " %s", f.Schema)
		}
		if f.Subject != "" {
			fmt.Fprintf(w, ", subject %s version %d", f.Subject, f.Version)
		}
		w.WriteByte('\n')
	}
	fmt.Fprintf(w, "    payload:  %d bytes", f.PayloadBytes)
	if f.Wire == "confluent" || f.Wire == "raw" {
		start := f.HeaderBytes
		if start <= len(raw) {
			p := raw[start:]
			if len(p) > 32 {
				fmt.Fprintf(w, ": % x ...", p[:32])
			} else {
				fmt.Fprintf(w, ": % x", p)
			}
		}
	}
	w.WriteByte('\n')
	fmt.Fprintf(w, "    decoded:  %s\n", bytes.TrimSpace(payload))
}
