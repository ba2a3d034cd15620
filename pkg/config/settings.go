package config

import (
	"fmt"
	"reflect"
	"strings"
)

// Setting is one value of deimos.yaml that the environment, and for some a
// global flag, can set. As in rclone, each has one name and the rest is
// derived from it: the environment variable is DEIMOS_ + the name in upper
// case with '-' as '_' (Env), and the global flag is --name. The one
// exception is the registry URL, whose flag is the shorter --registry.
//
// Settings is the only list: Load applies the environment and the global
// flags from it, the root command registers its flags from it, the secrets
// that logs mask come from it, and a test checks that README.md lists
// exactly its variables.
type Setting struct {
	Name  string // option name: "sasl-password"
	Key   string // path in deimos.yaml: "kafka.sasl.password"
	Flag  string // the global flag that also sets it ("" when none)
	Short string // the flag's letter, if any
	Usage string // the flag's help: "(env VAR)" is appended, or replaces $ENV

	// Secret: the whole value is a secret (masked in every message).
	// URL: the value is a URL or DSN whose password is a secret.
	Secret, URL bool
}

// Env is the environment variable of the setting.
func (s Setting) Env() string {
	return "DEIMOS_" + strings.ToUpper(strings.ReplaceAll(s.Name, "-", "_"))
}

// Settings are the configuration values the environment and the global
// flags override: flag > environment > config file > default.
var Settings = []Setting{
	{Name: "brokers", Key: "kafka.brokers", Flag: "brokers", Short: "b", Usage: "Kafka bootstrap brokers, comma-separated"},
	{Name: "client-id", Key: "kafka.client_id"},
	{Name: "sasl-mechanism", Key: "kafka.sasl.mechanism"},
	{Name: "sasl-username", Key: "kafka.sasl.username"},
	{Name: "sasl-password", Key: "kafka.sasl.password", Secret: true},
	{Name: "registry-url", Key: "schema.registry.url", Flag: "registry", Usage: "schema registry URL", URL: true},
	{Name: "registry-username", Key: "schema.registry.username"},
	{Name: "registry-password", Key: "schema.registry.password", Secret: true},
	{Name: "registry-token", Key: "schema.registry.token", Secret: true},
	{Name: "schema-path", Key: "schema.path", Flag: "schema-path", Usage: "directory of local schema files"},
	{Name: "schema-backend", Key: "schema.backend"},
	{Name: "topic-prefix", Key: "producers.topic_prefix"},
	{Name: "db", Key: "database.url", Flag: "db", Usage: "database URL: sqlite:PATH, postgres://... or mysql://... (env $ENV); required by commands that use tables, no default", URL: true},
	{Name: "log-level", Key: "log.level", Flag: "log-level", Usage: "log level: debug, info, warn, error"},
	{Name: "log-format", Key: "log.format", Flag: "log-format", Usage: "log format: text or json"},
}

// FlagUsage is the global flag's help, naming the variable.
func (s Setting) FlagUsage() string {
	if strings.Contains(s.Usage, "$ENV") {
		return strings.ReplaceAll(s.Usage, "$ENV", s.Env())
	}
	return s.Usage + " (env " + s.Env() + ")"
}

// SettingNamed returns the setting called name; it panics on a name that
// is not in Settings (a programming error, caught by the tests).
func SettingNamed(name string) Setting {
	for _, s := range Settings {
		if s.Name == name {
			return s
		}
	}
	panic("config: no setting " + name)
}

// Env is the environment variable of the setting called name.
func Env(name string) string { return SettingNamed(name).Env() }

// EnvNames lists every variable Load reads, DEIMOS_CONFIG first.
func EnvNames() []string {
	out := []string{ConfigEnv}
	for _, s := range Settings {
		out = append(out, s.Env())
	}
	return out
}

// ConfigEnv names the config file when --config is not given.
const ConfigEnv = "DEIMOS_CONFIG"

// Get returns the setting's value in c as text (a list joined with ",").
func (s Setting) Get(c *Config) string {
	v := field(c, s.Key)
	if l, ok := v.Interface().(StringList); ok {
		return strings.Join(l, ",")
	}
	return v.String()
}

// set writes text into the setting's field (a list is split at commas).
func (s Setting) set(c *Config, text string) {
	v := field(c, s.Key)
	if v.Type() == reflect.TypeOf(StringList(nil)) {
		v.Set(reflect.ValueOf(SplitList(text)))
		return
	}
	v.SetString(text)
}

// field finds the struct field a dotted yaml path names; Settings are
// checked by a test, so a bad path is a programming error.
func field(c *Config, key string) reflect.Value {
	v := reflect.ValueOf(c).Elem()
	for _, part := range strings.Split(key, ".") {
		found := false
		for i := 0; i < v.NumField(); i++ {
			tag, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("yaml"), ",")
			if tag == part {
				v, found = v.Field(i), true
				break
			}
		}
		if !found {
			panic(fmt.Sprintf("config: setting key %q: no field %q", key, part))
		}
	}
	return v
}

// Overrides are the values of the global flags; "" means not given. Each
// field names its setting in its tag; the root command binds the flags of
// Settings to them through Ptr, and Load applies them through the same
// tags, so a flag, its field and its setting cannot drift apart.
type Overrides struct {
	Brokers    string `setting:"brokers"`
	Registry   string `setting:"registry-url"`
	SchemaPath string `setting:"schema-path"`
	DB         string `setting:"db"`
	LogLevel   string `setting:"log-level"`
	LogFormat  string `setting:"log-format"`
}

// Ptr returns the field that holds the flag of the setting called name;
// it panics when there is none (a setting with a Flag needs a field).
func (o *Overrides) Ptr(name string) *string {
	v := reflect.ValueOf(o).Elem()
	for i := 0; i < v.NumField(); i++ {
		if v.Type().Field(i).Tag.Get("setting") == name {
			return v.Field(i).Addr().Interface().(*string)
		}
	}
	panic("config: Overrides has no field for setting " + name)
}

// Secrets returns c's secret values: whole secrets, and the URLs whose
// password spellings the caller extracts (see redact.Secrets).
func Secrets(c *Config) (secrets, urls []string) {
	for _, s := range Settings {
		switch {
		case s.Secret:
			secrets = append(secrets, s.Get(c))
		case s.URL:
			urls = append(urls, s.Get(c))
		}
	}
	return secrets, urls
}
