// Package cmd assembles the deimos command tree and maps errors to exit codes.
package cmd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/deimos-cli/deimos/cmd/consume"
	"github.com/deimos-cli/deimos/cmd/decode"
	"github.com/deimos-cli/deimos/cmd/dev"
	"github.com/deimos-cli/deimos/cmd/encode"
	"github.com/deimos-cli/deimos/cmd/events"
	"github.com/deimos-cli/deimos/cmd/genkeys"
	"github.com/deimos-cli/deimos/cmd/group"
	"github.com/deimos-cli/deimos/cmd/lag"
	"github.com/deimos-cli/deimos/cmd/migrate"
	"github.com/deimos-cli/deimos/cmd/outbox"
	"github.com/deimos-cli/deimos/cmd/poller"
	"github.com/deimos-cli/deimos/cmd/produce"
	"github.com/deimos-cli/deimos/cmd/registry"
	"github.com/deimos-cli/deimos/cmd/schemacompat"
	"github.com/deimos-cli/deimos/cmd/start"
	"github.com/deimos-cli/deimos/cmd/topic"
	"github.com/deimos-cli/deimos/internal/cmdutil"
	"github.com/deimos-cli/deimos/pkg/config"
	"github.com/deimos-cli/deimos/pkg/errs"
)

// NewRoot builds the command tree over the factory's streams.
func NewRoot(f *cmdutil.Factory) *cobra.Command {
	root := &cobra.Command{
		Use:   "deimos",
		Short: "Kafka + schemas + SQL toolbox for Deimos users",
		Long: `deimos is the shell-side toolbox for teams that run Kafka with schemas and a
relational database, compatible with the Ruby Deimos framework's tables and wire formats.

Configuration comes from ./deimos.yaml (or --config / DEIMOS_CONFIG), then the
environment (DEIMOS_BROKERS, DEIMOS_REGISTRY_URL, DEIMOS_DB, ...), then flags.

Exit codes: 0 success, 1 the job found a failure, 2 usage or configuration
error, 3 a required service (broker, registry, database) could not be reached.`,
		Example: `  deimos dev                                   # local broker + registry
  echo '{"id":1,"name":"bolt","price":0.25}' | deimos encode --schema Widget --namespace com.acme
  deimos outbox run --once --db postgres://app@db/app   # [needs PostgreSQL]`,
		Version:       f.Version,
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	root.SetIn(f.IO.In)
	root.SetOut(f.IO.Out)
	root.SetErr(f.IO.ErrOut)
	root.SetVersionTemplate("deimos {{.Version}}\n")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		var bad *pflag.InvalidValueError
		if errors.As(err, &bad) {
			// the message names the flag, the value and what it takes: one line
			return errs.Usage(err)
		}
		return errs.Usagef("%v\nRun '%s --help' for usage.", err, c.CommandPath())
	})

	pf := root.PersistentFlags()
	pf.StringVar(&f.Flags.ConfigFile, "config", "", "config file (default ./deimos.yaml when present; env "+config.ConfigEnv+")")
	for _, s := range config.Settings { // the global flags, and their variables, come from one list
		if s.Flag != "" {
			pf.StringVarP(f.Flags.Ptr(s.Name), s.Flag, s.Short, "", s.FlagUsage())
		}
	}

	root.AddCommand(
		encode.NewCmd(f, nil),
		decode.NewCmd(f, nil),
		produce.NewCmd(f, nil),
		consume.NewCmd(f, nil),
		outbox.NewCmd(f),
		poller.NewCmd(f),
		start.NewCmd(f, nil),
		schemacompat.NewCmd(f, nil),
		genkeys.NewCmd(f, nil),
		migrate.NewCmd(f),
		dev.NewCmd(f, nil),
		events.NewCmd(f),
		topic.NewCmd(f),
		group.NewCmd(f),
		lag.NewCmd(f, nil),
		registry.NewCmd(f),
		newCompletionCmd(),
	)
	root.CompletionOptions.DisableDefaultCmd = true
	root.PersistentPreRunE = func(c *cobra.Command, _ []string) error {
		return checkLogFlags(f)
	}
	markRunErrors(root)
	tidyHelp(root)
	return root
}

// checkLogFlags refuses a bad --log-level / --log-format (or the same in the
// environment) before any command runs, also in commands that never load
// the config file; values from deimos.yaml are checked when it loads.
func checkLogFlags(f *cmdutil.Factory) error {
	getenv := f.Getenv
	if getenv == nil {
		getenv = os.LookupEnv
	}
	for _, v := range []struct{ flag, env, val string }{
		{"--log-level", config.Env("log-level"), f.Flags.LogLevel},
		{"--log-format", config.Env("log-format"), f.Flags.LogFormat},
	} {
		src, val := v.flag, v.val
		if val == "" {
			src = v.env
			val, _ = getenv(v.env)
		}
		if val == "" {
			continue
		}
		var err error
		if v.flag == "--log-level" {
			err = config.CheckLogLevel(val)
		} else {
			err = config.CheckLogFormat(val)
		}
		if err != nil {
			return errs.Usagef("%s %w", src, err)
		}
	}
	return nil
}

// tidyHelp fixes how pflag renders some flags in --help: an empty list
// default prints as "(default [])", which says nothing. pflag already leaves
// out "[]" for string, string-array and int lists (and would print an empty
// default of theirs as "(default )"); other lists (int32Slice...) leave it
// out when it is "".
func tidyHelp(c *cobra.Command) {
	tidy := func(fl *pflag.Flag) {
		switch fl.Value.Type() {
		case "stringSlice", "stringArray", "intSlice":
			if fl.DefValue == "" {
				fl.DefValue = "[]"
			}
		default:
			if fl.DefValue == "[]" {
				fl.DefValue = ""
			}
		}
	}
	c.Flags().VisitAll(tidy)
	c.PersistentFlags().VisitAll(tidy)
	for _, s := range c.Commands() {
		tidyHelp(s)
	}
}

// runError marks errors returned by a command's own RunE, so that anything
// else (unknown command, bad arguments caught by cobra) maps to a usage error.
type runError struct{ error }

func (e runError) Unwrap() error { return e.error }

func markRunErrors(c *cobra.Command) {
	if run := c.RunE; run != nil {
		c.RunE = func(cmd *cobra.Command, args []string) error {
			if err := run(cmd, args); err != nil {
				return runError{err}
			}
			return nil
		}
	}
	for _, sub := range c.Commands() {
		markRunErrors(sub)
	}
}

func newCompletionCmd() *cobra.Command {
	return &cobra.Command{
		Use:       "completion bash|zsh|fish",
		Short:     "Print a shell completion script",
		Example:   "  source <(deimos completion bash)\n  deimos completion zsh > \"${fpath[1]}/_deimos\"   # [needs zsh]\n  deimos completion fish > ~/.config/fish/completions/deimos.fish   # [needs fish]",
		ValidArgs: []string{"bash", "zsh", "fish"},
		Args:      cmdutil.ExactArgs(1, "one shell: bash, zsh or fish"),
		RunE: func(c *cobra.Command, args []string) error {
			out := c.OutOrStdout()
			switch args[0] {
			case "bash":
				return c.Root().GenBashCompletionV2(out, true)
			case "zsh":
				return c.Root().GenZshCompletion(out)
			case "fish":
				return c.Root().GenFishCompletion(out, true)
			}
			return errs.Usagef("unknown shell %q: use bash, zsh or fish", args[0])
		},
	}
}

// Run executes the CLI with args and returns the exit code. Errors are
// printed once, here, as "deimos: <message>", with every known secret masked.
func Run(ctx context.Context, f *cmdutil.Factory, args []string) int {
	root := NewRoot(f)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return errs.CodeOK
	}
	var re runError
	if !errors.As(err, &re) && errs.KindOf(err) != errs.KindUsage {
		// cobra's own parsing errors (unknown command, flag) are usage errors
		err = errs.Usagef("%v\nRun 'deimos --help' for usage.", err)
	}
	code := errs.ExitCode(err)
	if code != errs.CodeOK {
		fmt.Fprintf(f.IO.ErrOut, "deimos: %s\n", f.Redact(strings.TrimSpace(err.Error())))
	}
	return code
}
