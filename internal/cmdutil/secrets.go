package cmdutil

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/deimos-cli/deimos/pkg/config"
	"github.com/deimos-cli/deimos/pkg/redact"
)

// secretEnv are the environment variables that hold a secret as a whole;
// urlEnv hold URLs or DSNs that may carry credentials.
var (
	secretEnv = []string{"DEIMOS_SASL_PASSWORD", "DEIMOS_REGISTRY_PASSWORD", "DEIMOS_REGISTRY_TOKEN", "DEIMOS_EVENTS_TOKEN"}
	urlEnv    = []string{"DEIMOS_DB", "DEIMOS_REGISTRY_URL"}
)

// Secrets lists every secret this invocation knows of, from the flags, the
// environment and (once loaded) the config: passwords, tokens and the
// password spellings of database and registry URLs, even ones that do not
// parse. Everything printed to stderr passes through redact.Text with them.
func (f *Factory) Secrets() []string {
	getenv := f.Getenv
	if getenv == nil {
		getenv = os.LookupEnv
	}
	var out []string
	for _, k := range secretEnv {
		if v, ok := getenv(k); ok && v != "" {
			out = append(out, v)
		}
	}
	for _, k := range urlEnv {
		if v, ok := getenv(k); ok {
			out = append(out, redact.Secrets(v)...)
		}
	}
	for _, v := range []string{f.Flags.DB, f.Flags.Registry} {
		out = append(out, redact.Secrets(v)...)
	}
	if f.cfg != nil {
		out = append(out, configSecrets(f.cfg)...)
	}
	return append(out, f.extraSecrets...)
}

// AddSecret registers a secret a command read itself (e.g. events serve's
// --token or --token-file), so logs and the final error line mask it.
// Call it before Logger.
func (f *Factory) AddSecret(s ...string) {
	for _, v := range s {
		if v != "" {
			f.extraSecrets = append(f.extraSecrets, v)
		}
	}
}

func configSecrets(c *config.Config) []string {
	out := []string{c.Kafka.SASL.Password, c.Schema.Registry.Password, c.Schema.Registry.Token}
	out = append(out, redact.Secrets(c.Database.URL)...)
	return append(out, redact.Secrets(c.Schema.Registry.URL)...)
}

// Redact masks every known secret, and anything shaped like a credential,
// in a message about to be printed.
func (f *Factory) Redact(msg string) string { return redact.Text(msg, f.Secrets()...) }

// redactHandler passes every log record's message and string values
// (errors included) through redact.Text before the real handler sees them.
type redactHandler struct {
	h       slog.Handler
	secrets []string
}

func (r redactHandler) Enabled(ctx context.Context, l slog.Level) bool { return r.h.Enabled(ctx, l) }

func (r redactHandler) Handle(ctx context.Context, rec slog.Record) error {
	n := slog.NewRecord(rec.Time, rec.Level, redact.Text(rec.Message, r.secrets...), rec.PC)
	rec.Attrs(func(a slog.Attr) bool {
		n.AddAttrs(r.attr(a))
		return true
	})
	return r.h.Handle(ctx, n)
}

func (r redactHandler) WithAttrs(as []slog.Attr) slog.Handler {
	out := make([]slog.Attr, len(as))
	for i, a := range as {
		out[i] = r.attr(a)
	}
	return redactHandler{h: r.h.WithAttrs(out), secrets: r.secrets}
}

func (r redactHandler) WithGroup(name string) slog.Handler {
	return redactHandler{h: r.h.WithGroup(name), secrets: r.secrets}
}

func (r redactHandler) attr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, redact.Text(v.String(), r.secrets...))
	case slog.KindGroup:
		g := v.Group()
		out := make([]slog.Attr, len(g))
		for i, x := range g {
			out[i] = r.attr(x)
		}
		return slog.Attr{Key: a.Key, Value: slog.GroupValue(out...)}
	case slog.KindAny:
		if e, ok := v.Any().(error); ok {
			return slog.String(a.Key, redact.Text(e.Error(), r.secrets...))
		}
		// Anything else keeps its type unless its text holds a secret.
		s := fmt.Sprint(v.Any())
		if m := redact.Text(s, r.secrets...); m != s {
			return slog.String(a.Key, m)
		}
	}
	return slog.Attr{Key: a.Key, Value: v}
}
