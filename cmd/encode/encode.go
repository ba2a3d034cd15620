// Package encode is the `deimos encode` command.
package encode

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/deimos-cli/deimos/internal/cmdutil"
	"github.com/deimos-cli/deimos/pkg/config"
	"github.com/deimos-cli/deimos/pkg/encode"
	"github.com/deimos-cli/deimos/pkg/errs"
	"github.com/deimos-cli/deimos/pkg/registry"
)

// Options are the encode command's flags.
type Options struct {
	Schema, Namespace, Backend, Topic, Wire string
	OutputEncoding                          string
	KeepGoing                               bool
	File                                    string
	WithKey                                 bool
	KeyConfig                               string
	Normalize                               bool
	Key                                     *string
}

// NewCmd returns the `encode` command; runF replaces the run (tests).
func NewCmd(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	o := &Options{}
	c := &cobra.Command{
		Use:   "encode",
		Short: "Encode JSON payloads into wire bytes (Avro, Protobuf, JSON)",
		Long: `Encode reads JSON from stdin (or -f FILE) - one document, or JSON lines - and
writes the encoded bytes of each message, one line per message (base64 by default).

The schema comes from --schema/--namespace, or from the configured topic given
with --topic (its backend, schema and key_config). Payloads are natural JSON:
no Avro union wrappers; strings "true"/"false" become booleans, numeric strings
become numbers where the schema wants them, timestamps accept RFC 3339 text or
epoch numbers, dates YYYY-MM-DD, decimals strings. Keys not in the schema are
dropped; a missing required field is an error naming it.

Each bad input line gives one error line on stderr, such as
  line 3: Widget.price: expected double, found "abc"
By default encode stops there (lines already written stay written); with
--keep-going it encodes the rest and reports how many failed.

Keys (--with-key): per the topic's key_config or --key-config; the key is -k KEY,
else the payload's payload_key (or its key field). --key-config schema:long (or
string, int...) writes the key with that Avro primitive schema, as Confluent's
serializers write primitive keys (registered under the key subject).

Wire formats (--wire): confluent (0x00 + 4-byte schema id + Avro, registers the
schema under <prefix><topic>-value, or <ns>.<Name>-value without a topic), raw
(bare Avro binary), ocf (Avro object container file, as Deimos avro_local writes).
A wire the backend cannot write is an error (exit 2): json and plain write bare
text only (use json_schema_registry for Confluent-framed JSON Schema); protobuf
and JSON Schema have no container file.

JSON Schema (--backend json_schema_registry or json_schema_local, --schema NAME
for <schema.path>/<ns dirs>/NAME.json or a .json path): each document is
validated against the schema (drafts 4 to 2020-12, draft-07 when "$schema" is
absent) and written as its JSON text, Confluent-framed (0x00 + 4-byte id of the
schema registered as type JSON) or bare. See docs/jsonschema.md.

Exit codes: 0 all encoded, 1 some input could not be encoded, 2 usage or schema
errors, 3 the schema registry could not be reached.`,
		Example: `  echo '{"test_id":"abc","some_int":12}' | deimos encode --schema Simple --namespace com.acme --wire raw --output-encoding hex
  deimos encode --schema com.acme.Widget --wire confluent --registry http://localhost:8081 -f widgets.jsonl
  deimos encode --topic widgets --keep-going < widgets.jsonl > widgets.b64
  echo '{"id":1,"name":"a","price":2.5}' | deimos encode --schema Widget --wire raw --output-encoding raw > widget.avro
  echo '{"id":1,"name":"a"}' | deimos encode --backend json_schema_registry --schema Widget --topic widgets-json --registry http://localhost:8081
  echo '{"id":1,"name":"a","price":2.5}' | deimos encode --topic widgets-by-id --schema Widget --wire confluent --key-config schema:long -k 1 --with-key`,
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
	fl.StringVar(&o.Schema, "schema", "", "schema name (Avro record name, optionally with namespace)")
	fl.StringVar(&o.Namespace, "namespace", "", "Avro namespace of --schema")
	fl.StringVar(&o.Backend, "backend", "", "schema backend: "+strings.Join(config.Backends, ", "))
	fl.StringVarP(&o.Topic, "topic", "t", "", "configured topic whose backend, schema and key_config to use")
	fl.StringVar(&o.Wire, "wire", "", "value framing: confluent, raw or ocf (default: the backend's)")
	fl.StringVar(&o.OutputEncoding, "output-encoding", "base64", "output: base64, hex, or raw (raw only for a single message)")
	fl.BoolVar(&o.KeepGoing, "keep-going", false, "encode the remaining lines after a bad one; exit 1 at the end if any failed")
	fl.StringVarP(&o.File, "file", "f", "", "read input from FILE instead of stdin")
	fl.BoolVar(&o.WithKey, "with-key", false, "write \"KEY<TAB>VALUE\" (both encoded) per message")
	fl.BoolVar(&o.Normalize, "normalize", false, "register Avro schemas in Parsing Canonical Form (schema.normalize) instead of the text as written")
	fl.StringVar(&o.KeyConfig, "key-config", "", "key_config: none, plain, field:FIELD or schema:SCHEMA (SCHEMA may be an Avro primitive: string, long...)")
	key := fl.StringP("key", "k", "", "key for every message (encoded per key_config)")
	c.PreRun = func(cmd *cobra.Command, _ []string) {
		if cmd.Flags().Changed("key") {
			o.Key = key
		}
	}
	return c
}

// Message is one input document with the line it starts on.
type Message struct {
	Line int
	Data []byte
}

// SplitInput reads one JSON document or JSON lines. A whole input that is one
// JSON value (even over several lines) is one message; otherwise every
// non-blank line is a message.
func SplitInput(data []byte) []Message {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return nil
	}
	if json.Valid(trimmed) {
		line := 1 + bytes.Count(data[:bytes.Index(data, trimmed[:1])], []byte{'\n'})
		return []Message{{Line: line, Data: trimmed}}
	}
	var out []Message
	for i, l := range bytes.Split(data, []byte{'\n'}) {
		l = bytes.TrimSpace(l)
		if len(l) > 0 {
			out = append(out, Message{Line: i + 1, Data: l})
		}
	}
	return out
}

// BuildEngine makes an engine from the factory's config (shared with decode).
func BuildEngine(f *cmdutil.Factory) (*encode.Engine, *config.Config, error) {
	cfg, err := f.Config()
	if err != nil {
		return nil, nil, err
	}
	reg, err := registry.New(cfg.Schema.Registry)
	if err != nil {
		return nil, nil, err
	}
	e, err := encode.New(encode.Options{Config: cfg, Registry: reg})
	if err != nil {
		return nil, nil, err
	}
	return e, cfg, nil
}

// ResolveSpec builds the spec from --topic and the schema flags.
func ResolveSpec(e *encode.Engine, topic, schema, ns, backend, wire string) (encode.Spec, error) {
	var s encode.Spec
	if err := encode.CheckSchemaFlag(backend, schema, "--backend", "--schema"); err != nil {
		return s, err
	}
	if topic != "" {
		s, _ = e.SpecFor(topic)
	}
	if schema != "" {
		s.Schema = schema
		if ns != "" || !strings.Contains(schema, ".") {
			s.Namespace = ns
		} else {
			s.Namespace = ""
		}
	} else if ns != "" {
		s.Namespace = ns
	}
	if backend != "" {
		s.Backend = backend
	}
	switch wire {
	case "", "confluent", "raw", "ocf":
		s.Wire = wire
	default:
		return s, errs.Usagef("--wire: %q is not confluent, raw or ocf", wire)
	}
	if s.Wire == "confluent" && s.Backend == "" {
		s.Backend = "avro_schema_registry"
	}
	b := s.Backend
	if b == "" {
		b = e.Config().Schema.Backend
	}
	if err := encode.CheckWire(b, s.Wire); err != nil {
		from := "--backend " + b
		if backend == "" {
			from = "backend " + b + " (from --topic or schema.backend)"
		}
		return s, errs.Usagef("--wire %s cannot be honoured with %s: %v", s.Wire, from, err)
	}
	return s, nil
}

func encodeOut(enc string, b []byte) ([]byte, error) {
	switch enc {
	case "base64":
		return []byte(base64.StdEncoding.EncodeToString(b)), nil
	case "hex":
		return []byte(hex.EncodeToString(b)), nil
	case "raw":
		return b, nil
	}
	return nil, errs.Usagef("--output-encoding: %q is not base64, hex or raw", enc)
}

func readInput(f *cmdutil.Factory, file string) ([]byte, error) {
	if file != "" && file != "-" {
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, errs.Usagef("%v", err)
		}
		return b, nil
	}
	return io.ReadAll(f.IO.In)
}

// validate checks what the flags alone can tell, before the config and
// the registry are touched (run checks the rest with the engine).
func (o *Options) validate() error {
	if _, err := encodeOut(o.OutputEncoding, nil); err != nil {
		return err
	}
	switch o.Wire {
	case "", "confluent", "raw", "ocf":
	default:
		return errs.Usagef("--wire: %q is not confluent, raw or ocf", o.Wire)
	}
	if o.KeyConfig != "" {
		if _, err := config.ParseKeyConfig(o.KeyConfig); err != nil {
			return errs.Usage(err)
		}
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
	e, cfg, err := BuildEngine(f)
	if err != nil {
		return err
	}
	cfg.ApplySchemaFlags(config.SchemaFlags{Normalize: o.Normalize})
	s, err := ResolveSpec(e, o.Topic, o.Schema, o.Namespace, o.Backend, o.Wire)
	if err != nil {
		return err
	}
	if o.KeyConfig != "" {
		if s.KeyConfig, err = config.ParseKeyConfig(o.KeyConfig); err != nil {
			return errs.Usage(err)
		}
	}
	if s.Schema == "" && (strings.HasPrefix(s.Backend, "avro") || strings.HasPrefix(s.Backend, "proto") || strings.HasPrefix(s.Backend, "json_schema")) {
		return errs.Usagef("encode: backend %s needs a schema: give --schema NAME or a configured --topic", s.Backend)
	}
	data, err := readInput(f, o.File)
	if err != nil {
		return err
	}
	msgs := SplitInput(data)
	if o.OutputEncoding == "raw" && (len(msgs) > 1 || o.WithKey) {
		return errs.Usagef("--output-encoding raw writes a single message; the input has %d (use base64 or hex)", len(msgs))
	}
	failed := 0
	for _, m := range msgs {
		if err := ctx.Err(); err != nil {
			return err
		}
		msg := encode.Message{Value: encode.Text(m.Data)}
		if o.Key != nil {
			msg.Key = *o.Key
		}
		out, err := e.Encode(ctx, s, msg)
		if err != nil {
			k := errs.KindOf(err)
			if k == errs.KindUsage || k == errs.KindUnavailable {
				return err
			}
			if !o.KeepGoing {
				return errs.Failedf("line %d: %v", m.Line, err)
			}
			failed++
			fmt.Fprintf(f.IO.ErrOut, "line %d: %v\n", m.Line, err)
			continue
		}
		var line []byte
		if o.WithKey {
			k, _ := encodeOut(o.OutputEncoding, out.Key)
			line = append(k, '\t')
		}
		v, _ := encodeOut(o.OutputEncoding, out.Value)
		line = append(line, v...)
		if o.OutputEncoding != "raw" {
			line = append(line, '\n')
		}
		if _, err := f.IO.Out.Write(line); err != nil {
			return err
		}
	}
	if failed > 0 {
		return errs.Failedf("%d of %d messages could not be encoded", failed, len(msgs))
	}
	return nil
}
