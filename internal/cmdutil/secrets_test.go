package cmdutil

import (
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/deimos-cli/deimos/pkg/config"
)

// The logger masks every known secret (from flags, environment and
// config) and anything shaped like a credential, in the message and in
// every attribute, in both log formats.
func TestLoggerMasksSecrets(t *testing.T) {
	env := map[string]string{
		"DEIMOS_SASL_PASSWORD": "sasl-Zq9SECRET",
		"DEIMOS_DB":            "postgres://u:p#db-Zq9SECRET@h/db",
	}
	for _, format := range []string{"text", "json"} {
		ios, _, errOut := Test("")
		f := &Factory{IO: ios, Getenv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }}
		f.Flags.Registry = "http://u:p/flag-Zq9SECRET@h"
		cfg := &config.Config{Log: config.Log{Level: "debug", Format: format}}
		cfg.Schema.Registry.Token = "tok-Zq9SECRET"
		log := f.Logger(cfg).With("dsn", "host=h password='a b-Zq9SECRET'")
		log.Info("connecting with sasl-Zq9SECRET",
			"error", errors.New("auth failed for p#db-Zq9SECRET"),
			"url", "http://u:p/flag-Zq9SECRET@h",
			slog.Group("registry", "token", "tok-Zq9SECRET"),
			"list", []string{"tok-Zq9SECRET"})
		out := errOut.String()
		if strings.Contains(out, "Zq9SECRET") {
			t.Fatalf("%s log shows a secret:\n%s", format, out)
		}
		if !strings.Contains(out, "connecting with xxxxx") {
			t.Fatalf("%s log lost the message:\n%s", format, out)
		}
	}
}

// A secret a command read itself (events serve's --token or --token-file)
// is masked in logs and in the final error line once it is registered.
func TestAddSecretIsMasked(t *testing.T) {
	ios, _, errOut := Test("")
	f := &Factory{IO: ios, Getenv: func(string) (string, bool) { return "", false }}
	const tok = "flag-token-Zq9SECRET"
	if got := f.Redact("bad token " + tok); !strings.Contains(got, tok) {
		t.Fatalf("unregistered free-text token masked unexpectedly: %q", got)
	}
	f.AddSecret(tok, "")
	if got := f.Redact("bad token " + tok); strings.Contains(got, tok) {
		t.Fatalf("Redact shows the registered token: %q", got)
	}
	f.Logger(&config.Config{Log: config.Log{Level: "info", Format: "json"}}).Info("auth", "token", tok)
	if strings.Contains(errOut.String(), tok) {
		t.Fatalf("log shows the registered token: %s", errOut)
	}
}
