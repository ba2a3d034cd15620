// Package cmdutil is what every command package shares: IO streams, the
// lazily loaded Config, the logger, and signal handling. Modelled on the
// GitHub CLI's Factory: commands get one, tests build one over buffers.
package cmdutil

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"

	"github.com/muesli/termenv"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/deimos-cli/deimos/pkg/config"
	"github.com/deimos-cli/deimos/pkg/errs"
)

// IOStreams are a command's stdin, stdout and stderr, and whether each is a terminal.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer

	StdinTTY, StdoutTTY, StderrTTY bool
	// ColorProfile, when set, replaces the colours detected on a terminal
	// stdout (tests of styled output over a buffer).
	ColorProfile *termenv.Profile
}

// System returns the process's real streams.
func System() *IOStreams {
	return &IOStreams{
		In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr,
		StdinTTY:  term.IsTerminal(int(os.Stdin.Fd())),
		StdoutTTY: term.IsTerminal(int(os.Stdout.Fd())),
		StderrTTY: term.IsTerminal(int(os.Stderr.Fd())),
	}
}

// Test returns streams over buffers (no terminals) for tests.
func Test(stdin string) (*IOStreams, *bytes.Buffer, *bytes.Buffer) {
	out, errOut := &bytes.Buffer{}, &bytes.Buffer{}
	return &IOStreams{In: strings.NewReader(stdin), Out: out, ErrOut: errOut}, out, errOut
}

// GlobalFlags are the persistent flags of the contract.
type GlobalFlags struct {
	ConfigFile string
	config.Overrides
}

// Factory hands commands what they need, built lazily from the persistent flags.
type Factory struct {
	IO      *IOStreams
	Version string
	Flags   GlobalFlags
	// Getenv overrides os.LookupEnv (tests).
	Getenv func(string) (string, bool)

	once   sync.Once
	cfg    *config.Config
	cfgErr error
	// extraSecrets are secrets a command learnt itself (a token from a
	// flag or file), masked like the ones from flags, env and config.
	extraSecrets []string
}

// Config loads the configuration once (file, env, flags, defaults).
func (f *Factory) Config() (*config.Config, error) {
	f.once.Do(func() {
		f.cfg, f.cfgErr = config.Load(config.LoadOptions{Path: f.Flags.ConfigFile, Overrides: f.Flags.Overrides, Getenv: f.Getenv})
	})
	return f.cfg, f.cfgErr
}

// Logger returns a slog logger on stderr at the configured level and
// format. Every record passes through redact.Text with the known secrets.
func (f *Factory) Logger(cfg *config.Config) *slog.Logger {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(cfg.Log.Level)); err != nil {
		lvl = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: lvl}
	var h slog.Handler = slog.NewTextHandler(f.IO.ErrOut, opts)
	if cfg.Log.Format == "json" {
		h = slog.NewJSONHandler(f.IO.ErrOut, opts)
	}
	return slog.New(redactHandler{h: h, secrets: append(f.Secrets(), configSecrets(cfg)...)})
}

// SignalContext is cancelled by SIGINT or SIGTERM; long-running commands
// finish their in-flight work when it is done, then return.
func SignalContext(parent context.Context) (context.Context, context.CancelFunc) {
	return signal.NotifyContext(parent, os.Interrupt, syscall.SIGTERM)
}

// ExactArgs is cobra.ExactArgs with a usage-error exit code and a clearer message.
func ExactArgs(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return errs.Usagef("%s: expected %s, got %d argument(s)\nRun '%s --help' for usage.", cmd.CommandPath(), what, len(args), cmd.CommandPath())
		}
		return nil
	}
}
