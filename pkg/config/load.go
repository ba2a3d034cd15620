package config

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"reflect"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/deimos-cli/deimos/pkg/errs"
)

// DefaultFile is read when present and no --config or DEIMOS_CONFIG is given.
const DefaultFile = "deimos.yaml"

// LoadOptions say where to read from. Getenv defaults to os.LookupEnv.
type LoadOptions struct {
	Path      string // --config; "" means $DEIMOS_CONFIG, then ./deimos.yaml when present
	Overrides Overrides
	Getenv    func(string) (string, bool)
}

// Load reads the config file (if any), expands ${VAR}, decodes strictly,
// then applies environment and flag overrides and defaults.
// Every error is a usage error (exit 2).
func Load(o LoadOptions) (*Config, error) {
	getenv := o.Getenv
	if getenv == nil {
		getenv = os.LookupEnv
	}
	path, explicit := o.Path, o.Path != ""
	if path == "" {
		if p, ok := getenv(ConfigEnv); ok && p != "" {
			path, explicit = p, true
		} else {
			path = DefaultFile
		}
	}
	cfg := &Config{}
	data, err := os.ReadFile(path)
	switch {
	case err == nil:
		if err := Parse(data, path, getenv, cfg); err != nil {
			return nil, err
		}
		cfg.Source = path
	case errors.Is(err, fs.ErrNotExist) && !explicit:
		// no config file: defaults, env and flags only
	default:
		return nil, errs.Usagef("config: %w", err)
	}
	applyEnv(cfg, getenv)
	applyFlags(cfg, o.Overrides)
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, errs.Usage(err)
	}
	return cfg, nil
}

// Parse decodes YAML into cfg strictly: unknown keys are errors naming key and line.
func Parse(data []byte, name string, getenv func(string) (string, bool), cfg *Config) error {
	var root yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&root); err != nil {
		if err.Error() == "EOF" {
			return nil // empty file
		}
		return errs.Usagef("%s: %v", name, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	if err := expandNode(&root, getenv); err != nil {
		return errs.Usagef("%s: %w", name, err)
	}
	doc := &root
	if doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 {
		doc = doc.Content[0]
	}
	if err := checkKnown(doc, reflect.TypeOf(*cfg), ""); err != nil {
		return errs.Usagef("%s: %w", name, err)
	}
	if err := doc.Decode(cfg); err != nil {
		return errs.Usagef("%s: %s", name, cleanYAMLError(err))
	}
	for i := 0; i+1 < len(doc.Content); i += 2 {
		if doc.Content[i].Value == "outbox" {
			cfg.Outbox.Configured = true
		}
	}
	return nil
}

// yamlValue is the (shortened) value yaml.v3 quotes in a type error. It is
// dropped: a password put under the wrong key must not be printed.
var yamlValue = regexp.MustCompile("(!![a-z]+) `[^`]*`")

func cleanYAMLError(err error) string {
	s := strings.TrimPrefix(err.Error(), "yaml: unmarshal errors:\n")
	s = strings.TrimPrefix(s, "yaml: ")
	s = yamlValue.ReplaceAllString(s, "$1 value")
	return strings.Join(strings.Fields(s), " ")
}

// expandNode replaces ${VAR} and ${VAR:-default} in every scalar.
// An unset variable without a default is an error naming it and the line.
func expandNode(n *yaml.Node, getenv func(string) (string, bool)) error {
	if n.Kind == yaml.ScalarNode && strings.Contains(n.Value, "${") {
		var missing []string
		n.Value = os.Expand(escapeDollars(n.Value), func(key string) string {
			if key == "$" {
				return "$"
			}
			name, def, hasDef := strings.Cut(key, ":-")
			if v, ok := getenv(name); ok && (v != "" || !hasDef) {
				return v
			}
			if hasDef {
				return def
			}
			missing = append(missing, name)
			return ""
		})
		if len(missing) > 0 {
			return fmt.Errorf("line %d: environment variable %s is not set (use ${%s:-default} for a default)", n.Line, missing[0], missing[0])
		}
		if n.Style == 0 {
			n.Tag = "" // plain scalar: let the decoder re-resolve the expanded value's type
		}
		return nil
	}
	for _, c := range n.Content {
		if err := expandNode(c, getenv); err != nil {
			return err
		}
	}
	return nil
}

// escapeDollars keeps "$$" as a literal dollar and leaves lone "$x" untouched:
// only ${...} is expanded, so passwords containing "$" survive.
func escapeDollars(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '$' {
			switch {
			case i+1 < len(s) && s[i+1] == '{':
				b.WriteByte('$')
			case i+1 < len(s) && s[i+1] == '$':
				b.WriteString("${$}")
				i++
			default:
				b.WriteString("${$}")
			}
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// checkKnown walks a mapping node against a struct type and reports the first
// key the struct does not declare, with its line and dotted path.
func checkKnown(n *yaml.Node, t reflect.Type, path string) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch n.Kind {
	case yaml.MappingNode:
		if t.Kind() == reflect.Map {
			for i := 1; i < len(n.Content); i += 2 {
				if err := checkKnown(n.Content[i], t.Elem(), join(path, n.Content[i-1].Value)); err != nil {
					return err
				}
			}
			return nil
		}
		if t.Kind() != reflect.Struct {
			return nil // decoder reports type mismatches itself
		}
		fields := map[string]reflect.Type{}
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			tag, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if tag == "" || tag == "-" {
				continue
			}
			fields[tag] = f.Type
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			ft, ok := fields[k.Value]
			if !ok {
				where := "at top level"
				if path != "" {
					where = "in " + path
				}
				return fmt.Errorf("line %d: unknown key %q %s", k.Line, k.Value, where)
			}
			if err := checkKnown(n.Content[i+1], ft, join(path, k.Value)); err != nil {
				return err
			}
		}
	case yaml.SequenceNode:
		if t.Kind() == reflect.Slice {
			for i, c := range n.Content {
				if err := checkKnown(c, t.Elem(), fmt.Sprintf("%s[%d]", path, i)); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// UnmarshalYAML accepts a list or a comma-separated string.
func (l *StringList) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*l = SplitList(n.Value)
		return nil
	}
	var s []string
	if err := n.Decode(&s); err != nil {
		return err
	}
	*l = s
	return nil
}

// UnmarshalYAML accepts "60s", "1m" or a number of seconds.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*d = v
	return nil
}

// UnmarshalYAML accepts "all" or a list of topic names.
func (m *TopicMatch) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*m = ParseTopicMatch(n.Value)
		return nil
	}
	var s []string
	if err := n.Decode(&s); err != nil {
		return err
	}
	*m = TopicMatch{Topics: s}
	return nil
}

// applyEnv sets what the environment gives, by the variables derived from
// Settings (an empty variable is not set).
func applyEnv(c *Config, getenv func(string) (string, bool)) {
	for _, s := range Settings {
		if v, ok := getenv(s.Env()); ok && v != "" {
			s.set(c, v)
		}
	}
}

// applyFlags sets what the global flags give; they beat the environment.
func applyFlags(c *Config, o Overrides) {
	for _, s := range Settings {
		if s.Flag == "" {
			continue
		}
		if v := *o.Ptr(s.Name); v != "" {
			s.set(c, v)
		}
	}
}

func (c *Config) setDefaults() {
	if len(c.Kafka.Brokers) == 0 {
		c.Kafka.Brokers = StringList{"localhost:9092"}
	}
	if c.Kafka.ClientID == "" {
		c.Kafka.ClientID = "deimos"
	}
	if c.Kafka.Partitioner == "" {
		c.Kafka.Partitioner = "crc32"
	}
	if c.Schema.Path == "" {
		c.Schema.Path = "schemas"
	}
	if c.Schema.KeySubject == "" {
		c.Schema.KeySubject = "prefixed"
	}
	if c.Producers.Backend == "" {
		c.Producers.Backend = "kafka"
	}
	if c.Outbox.Workers == 0 {
		c.Outbox.Workers = 1
	}
	if c.Outbox.BatchSize == 0 {
		c.Outbox.BatchSize = 1000
	}
	if c.Log.Level == "" {
		c.Log.Level = "info"
	}
	if c.Log.Format == "" {
		c.Log.Format = "text"
	}
}

// Backends are the Deimos schema backend names, and deimos's JSON Schema
// backends (json_schema_local, json_schema_registry; docs/jsonschema.md).
var Backends = []string{"avro_local", "avro_schema_registry", "avro_validation", "proto_local", "proto_schema_registry", "json_schema_local", "json_schema_registry", "json", "plain"}

func validBackend(b string) bool {
	for _, x := range Backends {
		if b == x {
			return true
		}
	}
	return false
}

// Validate checks values that no later stage could explain better.
func (c *Config) Validate() error {
	if c.Schema.Backend != "" && !validBackend(c.Schema.Backend) {
		return fmt.Errorf("schema.backend: unknown backend %q (one of %s)", c.Schema.Backend, strings.Join(Backends, ", "))
	}
	switch c.Kafka.Partitioner {
	case "crc32", "murmur2":
	default:
		return fmt.Errorf("kafka.partitioner: %q is not crc32 or murmur2", c.Kafka.Partitioner)
	}
	switch strings.ToUpper(c.Kafka.SASL.Mechanism) {
	case "", "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512":
	default:
		return fmt.Errorf("kafka.sasl.mechanism: %q is not PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", c.Kafka.SASL.Mechanism)
	}
	switch c.Schema.KeySubject {
	case "prefixed", "unprefixed":
	default:
		return fmt.Errorf("schema.key_subject: %q is not prefixed or unprefixed", c.Schema.KeySubject)
	}
	if err := CheckLogFormat(c.Log.Format); err != nil {
		return fmt.Errorf("log.format %w", err)
	}
	if err := CheckLogLevel(c.Log.Level); err != nil {
		return fmt.Errorf("log.level %w", err)
	}
	switch c.Producers.Backend {
	case "kafka", "outbox":
	default:
		return fmt.Errorf("producers.backend: %q is not kafka or outbox", c.Producers.Backend)
	}
	for i, t := range c.Topics {
		if t.Name == "" {
			return fmt.Errorf("topics[%d]: name is required", i)
		}
		if t.Backend != "" && !validBackend(t.Backend) {
			return fmt.Errorf("topics[%d] (%s): unknown backend %q", i, t.Name, t.Backend)
		}
		if err := t.KeyConfig.Validate(); err != nil {
			return fmt.Errorf("topics[%d] (%s): %w", i, t.Name, err)
		}
		if t.Partitions < 0 || t.Partitions > math.MaxInt32 {
			return fmt.Errorf("topics[%d] (%s): partitions %d: must be a positive count", i, t.Name, t.Partitions)
		}
		if t.ReplicationFactor < 0 || t.ReplicationFactor > math.MaxInt16 {
			return fmt.Errorf("topics[%d] (%s): replication_factor %d: must be a positive count", i, t.Name, t.ReplicationFactor)
		}
	}
	return nil
}

// CheckLogLevel accepts the log levels deimos knows (any case).
func CheckLogLevel(s string) error {
	switch strings.ToLower(s) {
	case "debug", "info", "warn", "error":
		return nil
	}
	return fmt.Errorf("%q: use debug, info, warn or error", s)
}

// CheckLogFormat accepts text and json.
func CheckLogFormat(s string) error {
	switch s {
	case "text", "json":
		return nil
	}
	return fmt.Errorf("%q: use text or json", s)
}
