package config

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestSettingsEnvNames: the variables are derived from the names, and
// every setting's key names a field of Config (Get would panic otherwise).
func TestSettingsEnvNames(t *testing.T) {
	for name, want := range map[string]string{
		"brokers": "DEIMOS_BROKERS", "registry-url": "DEIMOS_REGISTRY_URL",
		"sasl-password": "DEIMOS_SASL_PASSWORD", "db": "DEIMOS_DB", "log-format": "DEIMOS_LOG_FORMAT",
	} {
		if got := Env(name); got != want {
			t.Errorf("Env(%q) = %s, want %s", name, got, want)
		}
	}
	seen := map[string]bool{}
	var o Overrides
	for _, s := range Settings {
		if seen[s.Env()] {
			t.Errorf("%s twice", s.Env())
		}
		seen[s.Env()] = true
		_ = s.Get(&Config{}) // panics on a key that names no field
		if s.Flag != "" {
			_ = o.Ptr(s.Name) // panics when Overrides has no field for the flag
		}
	}
}

// TestEveryVariableSetsItsKey: each variable, and each global flag, lands
// in the field its key names; the flag beats the variable.
func TestEveryVariableSetsItsKey(t *testing.T) {
	for _, s := range Settings {
		env := map[string]string{s.Env(): "from-env"}
		getenv := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
		var c Config
		applyEnv(&c, getenv)
		if got := s.Get(&c); got != "from-env" {
			t.Errorf("%s: %s = %q, want from-env", s.Env(), s.Key, got)
		}
		if s.Flag == "" {
			continue
		}
		var o Overrides
		*o.Ptr(s.Name) = "from-flag"
		applyFlags(&c, o)
		if got := s.Get(&c); got != "from-flag" {
			t.Errorf("--%s: %s = %q, want from-flag", s.Flag, s.Key, got)
		}
	}
	var c Config
	applyEnv(&c, func(k string) (string, bool) { return "a:1, b:2", k == "DEIMOS_BROKERS" })
	if !slices.Equal(c.Kafka.Brokers, StringList{"a:1", "b:2"}) {
		t.Errorf("DEIMOS_BROKERS: brokers = %q, want [a:1 b:2]", c.Kafka.Brokers)
	}
}

// TestReadmeListsTheVariables: README.md's "Environment overrides" names
// exactly the variables Load reads (derived from Settings), and the
// config-file variable is documented.
func TestReadmeListsTheVariables(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	_, para, ok := strings.Cut(readme, "Environment overrides:")
	if !ok {
		t.Fatal(`README.md: no "Environment overrides:" paragraph`)
	}
	para, _, _ = strings.Cut(para, "\n\n")
	var listed []string
	for _, m := range regexp.MustCompile("`(DEIMOS_[A-Z_]+)`").FindAllStringSubmatch(para, -1) {
		listed = append(listed, m[1])
	}
	var want []string
	for _, s := range Settings {
		want = append(want, s.Env())
	}
	slices.Sort(listed)
	slices.Sort(want)
	if !slices.Equal(listed, want) {
		t.Errorf("README.md Environment overrides list\n %v\nwant (config.Settings)\n %v", listed, want)
	}
	if !strings.Contains(readme, "`"+ConfigEnv+"`") {
		t.Errorf("README.md does not name %s", ConfigEnv)
	}
	if EnvNames()[0] != ConfigEnv || len(EnvNames()) != len(Settings)+1 {
		t.Errorf("EnvNames() = %v", EnvNames())
	}
}
