// Package config loads deimos.yaml, applies environment and flag overrides,
// and hands one Config value down to the engines (no globals).
//
// Precedence (README.md, "Configuration"): flag > environment > config file > default.
package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Config is the whole of deimos.yaml after ${VAR} expansion and overrides.
type Config struct {
	Kafka     Kafka      `yaml:"kafka"`
	Schema    Schema     `yaml:"schema"`
	Producers Producers  `yaml:"producers"`
	Topics    []Topic    `yaml:"topics"`
	Database  Database   `yaml:"database"`
	Outbox    Outbox     `yaml:"outbox"`
	Pollers   []Poller   `yaml:"pollers"`
	Consumers []Consumer `yaml:"consumers"`
	Log       Log        `yaml:"log"`

	// Source is the file the config was read from ("" when none).
	Source string `yaml:"-"`
}

// Kafka holds the client options shared by every command that talks to brokers.
type Kafka struct {
	Brokers        StringList `yaml:"brokers"`
	ClientID       string     `yaml:"client_id"`
	SASL           SASL       `yaml:"sasl"`
	TLS            TLS        `yaml:"tls"`
	Partitioner    string     `yaml:"partitioner"` // crc32 (default) | murmur2
	DialTimeout    Duration   `yaml:"dial_timeout"`
	RequestTimeout Duration   `yaml:"request_timeout"`
	// SessionTimeout is the consumer-group session timeout (Kafka's default
	// 45s): how long a crashed member holds its partitions before a restart
	// can take them over.
	SessionTimeout Duration `yaml:"session_timeout"`
}

// SASL authentication. Mechanism: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512.
type SASL struct {
	Mechanism string `yaml:"mechanism"`
	Username  string `yaml:"username"`
	Password  string `yaml:"password"`
}

// TLS settings for brokers or the registry. Enabled is implied by any file.
type TLS struct {
	Enabled            bool   `yaml:"enabled"`
	CAFile             string `yaml:"ca_file"`
	CertFile           string `yaml:"cert_file"`
	KeyFile            string `yaml:"key_file"`
	InsecureSkipVerify bool   `yaml:"insecure_skip_verify"`
	ServerName         string `yaml:"server_name"`
}

// On reports whether TLS should be used at all.
func (t TLS) On() bool {
	return t.Enabled || t.CAFile != "" || t.CertFile != "" || t.InsecureSkipVerify
}

// Schema selects the schema backend and where schemas live.
type Schema struct {
	Backend  string   `yaml:"backend"` // avro_local, avro_schema_registry, avro_validation, proto_local, proto_schema_registry, json_schema_local, json_schema_registry, json, plain
	Path     string   `yaml:"path"`
	Registry Registry `yaml:"registry"`
	// KeySubject: "prefixed" (v1: <prefix><topic>-key, default) or "unprefixed" (v2: <topic>-key).
	KeySubject string `yaml:"key_subject"`
	// AutoRegister registers schemas on first use (Deimos does); false looks them up instead.
	AutoRegister *bool `yaml:"auto_register"`
	// Normalize registers and looks up Avro schemas in Parsing Canonical Form
	// (with the registry's normalize=true) instead of the text as written.
	Normalize bool `yaml:"normalize"`
	// InlineReferences registers an Avro schema that uses types from other
	// files fully inlined, as Deimos (avro_turf) does, instead of with schema
	// references: for consumers and registries without reference support.
	InlineReferences bool `yaml:"inline_references"`
	// ProtoKeyPath is where gen-keys writes protobuf key files (Deimos: schema.proto_schema_key_path).
	ProtoKeyPath string `yaml:"proto_key_path"`
}

// AutoRegisterOn reports the effective auto_register setting (default true).
func (s Schema) AutoRegisterOn() bool { return s.AutoRegister == nil || *s.AutoRegister }

// Registry is the Confluent Schema Registry connection.
type Registry struct {
	URL      string `yaml:"url"`
	Username string `yaml:"username"`
	Password string `yaml:"password"`
	Token    string `yaml:"token"` // bearer token
	TLS      TLS    `yaml:"tls"`
}

// Producers holds settings shared by every producing command.
type Producers struct {
	TopicPrefix string `yaml:"topic_prefix"`
	Backend     string `yaml:"backend"` // kafka (default) | outbox
}

// Topic is one topic's encoding settings, as a Deimos producer/consumer declares them.
type Topic struct {
	Name      string    `yaml:"name"`
	Backend   string    `yaml:"backend"`
	Schema    string    `yaml:"schema"`
	Namespace string    `yaml:"namespace"`
	KeyConfig KeyConfig `yaml:"key_config"`
	// Partitions, ReplicationFactor and Configs are what `deimos topic
	// create --from-config` creates the topic with (0: the broker's default).
	Partitions        int               `yaml:"partitions"`
	ReplicationFactor int               `yaml:"replication_factor"`
	Configs           map[string]string `yaml:"configs"`
}

// KeyConfig is Deimos's key_config: exactly one of none, plain, field, schema.
type KeyConfig struct {
	None   bool   `yaml:"none"`
	Plain  bool   `yaml:"plain"`
	Field  string `yaml:"field"`
	Schema string `yaml:"schema"`
}

// Mode names the key mode: "none", "plain", "field" or "schema" ("" when unset).
func (k KeyConfig) Mode() string {
	switch {
	case k.Field != "":
		return "field"
	case k.Schema != "":
		return "schema"
	case k.Plain:
		return "plain"
	case k.None:
		return "none"
	}
	return ""
}

// avroKeyPrimitives are the Avro primitive types a key schema may be. Avro
// forbids defining a named type with a primitive's name in any namespace, so
// `schema: long` can never mean a long.avsc file.
var avroKeyPrimitives = map[string]bool{"boolean": true, "int": true, "long": true,
	"float": true, "double": true, "bytes": true, "string": true}

// Primitive returns the Avro primitive type of key_config schema: NAME when
// NAME is one ("string", "long"...), else "". Such a key is the bare value
// encoded with that schema, as Confluent's serializers write primitive keys.
func (k KeyConfig) Primitive() string {
	if avroKeyPrimitives[k.Schema] {
		return k.Schema
	}
	return ""
}

// Validate checks that at most one mode is set.
func (k KeyConfig) Validate() error {
	n := 0
	for _, on := range []bool{k.None, k.Plain, k.Field != "", k.Schema != ""} {
		if on {
			n++
		}
	}
	if n > 1 {
		return fmt.Errorf("key_config: set exactly one of none, plain, field, schema")
	}
	if k.Schema == "null" {
		return fmt.Errorf("key_config: schema null is not a key schema (use none: true to send no key)")
	}
	return nil
}

// ParseKeyConfig parses the --key-config flag: none, plain, field:F or
// schema:S (S a schema name or an Avro primitive type such as string or long).
func ParseKeyConfig(s string) (KeyConfig, error) {
	var k KeyConfig
	switch {
	case s == "none":
		k.None = true
	case s == "plain":
		k.Plain = true
	case strings.HasPrefix(s, "field:") && len(s) > 6:
		k.Field = s[6:]
	case strings.HasPrefix(s, "schema:") && len(s) > 7:
		k.Schema = s[7:]
	default:
		return k, fmt.Errorf("--key-config %q: use none, plain, field:FIELD or schema:SCHEMA (SCHEMA may be an Avro primitive: string, long, int...)", s)
	}
	if err := k.Validate(); err != nil {
		return k, fmt.Errorf("--key-config %q: %w", s, err)
	}
	return k, nil
}

// Database is the SQL connection: sqlite:PATH, postgres://… or mysql://… (or the
// MySQL driver's user:password@tcp(host:3306)/db); see pkg/db.
// There is no default: every command that reads or writes tables refuses to
// run without one (a missing setting must never mean a new, empty SQLite file).
type Database struct {
	URL string `yaml:"url"`
}

// Log settings.
type Log struct {
	Level  string `yaml:"level"`  // debug, info, warn, error
	Format string `yaml:"format"` // text | json
}

// TopicByName finds a configured topic by its un-prefixed name (or prefixed name).
func (c *Config) TopicByName(name string) (Topic, bool) {
	for _, t := range c.Topics {
		if t.Name == name || c.Producers.TopicPrefix+t.Name == name {
			return t, true
		}
	}
	return Topic{}, false
}

// StringList accepts a YAML list or a comma-separated string.
type StringList []string

// SplitList splits a comma-separated list (used for env and flag values too).
func SplitList(s string) StringList {
	var out StringList
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// Duration accepts Go durations ("1m30s") or a bare number of seconds (Deimos style).
type Duration time.Duration

// D returns the time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// ParseDuration parses "90s", "1m", or "60" (seconds).
func ParseDuration(s string) (Duration, error) {
	s = strings.TrimSpace(s)
	if d, err := time.ParseDuration(s); err == nil {
		return Duration(d), nil
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return Duration(f * float64(time.Second)), nil
	}
	return 0, fmt.Errorf("invalid duration %q (use e.g. 60s, 2m, or a number of seconds)", s)
}
