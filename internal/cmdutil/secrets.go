package cmdutil

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/deimos-cli/deimos/pkg/config"
	"github.com/deimos-cli/deimos/pkg/redact"
)

// eventsTokenEnv is `events serve`'s bearer token: a secret that is not a
// config setting (the others come from config.Settings).
const eventsTokenEnv = "DEIMOS_EVENTS_TOKEN"

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
	if v, ok := getenv(eventsTokenEnv); ok && v != "" {
		out = append(out, v)
	}
	for _, s := range config.Settings {
		v, ok := getenv(s.Env())
		switch {
		case s.Secret && ok && v != "":
			out = append(out, v)
		case s.URL:
			if ok {
				out = append(out, redact.Secrets(v)...)
			}
			if s.Flag != "" {
				out = append(out, redact.Secrets(*f.Flags.Ptr(s.Name))...)
			}
		}
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
	out, urls := config.Secrets(c)
	for _, u := range urls {
		out = append(out, redact.Secrets(u)...)
	}
	return out
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
