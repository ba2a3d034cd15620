package compat

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/deimos-cli/deimos/pkg/config"
	"github.com/deimos-cli/deimos/pkg/encode"
	"github.com/deimos-cli/deimos/pkg/encode/protobuf"
	"github.com/deimos-cli/deimos/pkg/errs"
)

// Key schema kinds for gen-keys.
const (
	KeyAvro       = "avro"
	KeyProtobuf   = "protobuf"
	KeyJSONSchema = "json-schema"
)

// KeyTarget is one key schema to generate.
type KeyTarget struct {
	Schema string // value schema full name (namespace.Name)
	Field  string // key field
	Kind   string // avro | protobuf | json-schema
	Topic  string // configured topic it came from ("" for --schema)
}

// KeyFile is a generated key schema.
type KeyFile struct {
	Target  KeyTarget
	Path    string // where it is written (under the output directory)
	Content []byte
}

// KeyOptions drive GenerateKeys.
type KeyOptions struct {
	SchemaPath   string // where value schemas live (schema.path)
	OutDir       string // "" = SchemaPath for Avro, ProtoKeyPath (default "protos") for protobuf/json-schema
	ProtoKeyPath string
}

// CheckKeyFlags checks gen-keys's flags by themselves: the --type word,
// and --schema and --field given together or not at all.
func CheckKeyFlags(schema, field, kind string) error {
	if kind != "" && kind != KeyAvro && kind != KeyProtobuf && kind != KeyJSONSchema {
		return errs.Usagef("--type must be avro, protobuf or json-schema, not %q", kind)
	}
	if schema != "" && field == "" {
		return errs.Usagef("--schema needs --field (the key field)")
	}
	if schema == "" && field != "" {
		return errs.Usagef("--field needs --schema")
	}
	return nil
}

// KeyTargets lists the key schemas to generate: one for an explicit schema,
// else every configured topic with a field key (kind from the topic's backend
// unless kind is given).
func KeyTargets(cfg *config.Config, schema, namespace, field, kind string) ([]KeyTarget, error) {
	if err := CheckKeyFlags(schema, field, kind); err != nil {
		return nil, err
	}
	if schema != "" {
		full := schema
		if namespace != "" && !strings.Contains(schema, ".") {
			full = namespace + "." + schema
		}
		if kind == "" {
			kind = kindForBackend(cfg.Schema.Backend)
		}
		return []KeyTarget{{Schema: full, Field: field, Kind: kind}}, nil
	}
	var out []KeyTarget
	for _, t := range cfg.Topics {
		if t.KeyConfig.Field == "" || t.Schema == "" {
			continue
		}
		full := t.Schema
		if t.Namespace != "" && !strings.Contains(full, ".") {
			full = t.Namespace + "." + full
		}
		k := kind
		if k == "" {
			b := t.Backend
			if b == "" {
				b = cfg.Schema.Backend
			}
			k = kindForBackend(b)
		}
		out = append(out, KeyTarget{Schema: full, Field: t.KeyConfig.Field, Kind: k, Topic: t.Name})
	}
	if len(out) == 0 && len(PrimitiveKeyTopics(cfg)) == 0 {
		return nil, errs.Usagef("no configured topic has a field key (key_config: {field: ...}); use --schema and --field")
	}
	return out, nil
}

// PrimitiveKeyTopics lists the configured topics whose key_config schema is
// an Avro primitive type: their key schema is the primitive itself, so there
// is nothing to generate (gen-keys reports them).
func PrimitiveKeyTopics(cfg *config.Config) []config.Topic {
	var out []config.Topic
	for _, t := range cfg.Topics {
		if t.KeyConfig.Primitive() != "" {
			out = append(out, t)
		}
	}
	return out
}

func kindForBackend(b string) string {
	if strings.HasPrefix(b, "proto") {
		return KeyProtobuf
	}
	return KeyAvro
}

// GenerateKeys builds the key schema files Deimos would produce.
func GenerateKeys(targets []KeyTarget, o KeyOptions) ([]KeyFile, error) {
	var loader *protobuf.Loader
	var out []KeyFile
	for _, t := range targets {
		switch t.Kind {
		case KeyAvro:
			rel := filepath.Join(strings.ReplaceAll(nsOf(t.Schema), ".", string(filepath.Separator)), shortOf(t.Schema)+".avsc")
			src := filepath.Join(o.SchemaPath, rel)
			b, err := os.ReadFile(src)
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					return nil, errs.Usagef("schema %s: %s not found", t.Schema, src)
				}
				return nil, errs.Usagef("schema %s: %v", t.Schema, err)
			}
			key, err := encode.AvroKeySchema(b, t.Field)
			if err != nil {
				return nil, errs.Usagef("%s: key field %q: %v", src, t.Field, err)
			}
			dir := o.OutDir
			if dir == "" {
				dir = o.SchemaPath
			}
			out = append(out, KeyFile{Target: t, Path: filepath.Join(dir, strings.TrimSuffix(rel, ".avsc")+"_key.avsc"), Content: withNewline(key)})
		case KeyProtobuf, KeyJSONSchema:
			if loader == nil {
				loader = protobuf.NewLoader(o.SchemaPath)
			}
			md, err := loader.Message(t.Schema)
			if err != nil {
				return nil, errs.Usagef("schema %s: %v", t.Schema, err)
			}
			rel, content, err := deimosKeyProto(md, t.Field)
			if err != nil {
				return nil, errs.Usagef("schema %s: key field %q: %v", t.Schema, t.Field, err)
			}
			if t.Kind == KeyJSONSchema {
				content, err = protobuf.KeyJSONSchema(md, t.Field)
				if err != nil {
					return nil, errs.Usagef("schema %s: key field %q: %v", t.Schema, t.Field, err)
				}
				rel = strings.TrimSuffix(rel, ".proto") + ".json"
			}
			dir := o.OutDir
			if dir == "" {
				dir = o.ProtoKeyPath
			}
			if dir == "" {
				dir = "protos"
			}
			out = append(out, KeyFile{Target: t, Path: filepath.Join(dir, filepath.FromSlash(rel)), Content: withNewline(content)})
		default:
			return nil, errs.Usagef("unknown key schema type %q", t.Kind)
		}
	}
	// A later topic with the same schema overwrites the file (as Deimos's rake task).
	byPath := map[string]int{}
	var dedup []KeyFile
	for _, f := range out {
		if i, ok := byPath[f.Path]; ok {
			dedup[i] = f
			continue
		}
		byPath[f.Path] = len(dedup)
		dedup = append(dedup, f)
	}
	return dedup, nil
}

// CheckKeys compares generated files with the disk; it returns the paths
// that are missing or differ.
func CheckKeys(files []KeyFile) []string {
	var bad []string
	for _, f := range files {
		b, err := os.ReadFile(f.Path)
		if err != nil {
			bad = append(bad, f.Path+" (missing)")
			continue
		}
		if !bytes.Equal(b, f.Content) {
			bad = append(bad, f.Path+" (differs)")
		}
	}
	sort.Strings(bad)
	return bad
}

// WriteKeys writes the files, creating directories.
func WriteKeys(files []KeyFile) error {
	for _, f := range files {
		if err := os.MkdirAll(filepath.Dir(f.Path), 0o755); err != nil {
			return errs.Failedf("writing %s: %w", f.Path, err)
		}
		if err := os.WriteFile(f.Path, f.Content, 0o644); err != nil {
			return errs.Failedf("writing %s: %w", f.Path, err)
		}
	}
	return nil
}

func withNewline(b []byte) []byte {
	if len(b) > 0 && b[len(b)-1] != '\n' {
		return append(b, '\n')
	}
	return b
}

func nsOf(full string) string {
	if i := strings.LastIndexByte(full, '.'); i >= 0 {
		return full[:i]
	}
	return ""
}

func shortOf(full string) string {
	return full[strings.LastIndexByte(full, '.')+1:]
}
