// Package dev is the `deimos dev` command: an in-memory Kafka broker and
// schema registry on loopback, for local work and users' own tests.
package dev

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/deimos-cli/deimos/internal/cmdutil"
	"github.com/deimos-cli/deimos/pkg/config"
	"github.com/deimos-cli/deimos/pkg/devenv"
)

// Options are `dev`'s flags.
type Options struct {
	host         string
	kafkaPort    int
	registryPort int
	partitions   int
	topics       []string
	noRegistry   bool
	printEnv     bool
	stateFile    string
	wait         time.Duration
}

// NewCmd returns the `dev` command; runF replaces the run (tests).
func NewCmd(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	o := &Options{}
	c := &cobra.Command{
		Use:   "dev",
		Short: "Run an in-memory Kafka broker and schema registry for local work",
		Long: `Run franz-go's kfake Kafka broker (real Kafka wire protocol) and an in-memory
Confluent-compatible schema registry on loopback until interrupted.

The addresses are printed on stdout, followed by an export line for the
environment variables every other deimos command reads. Nothing is persisted:
stopping dev discards all topics and schemas.

The export line is also written to a state file (--state-file, default
~/.cache/deimos/dev.env) while dev runs: 'deimos dev --print-env' prints it
from any other shell, waiting up to --wait for a dev that is still starting
(exit 3 when none runs).`,
		Example: `  deimos dev
  deimos dev --kafka-port 19092 --registry-port 18081 --topic orders --partitions 6
  eval "$(deimos dev --print-env)"              # in another shell: the running dev's addresses
  deimos dev --kafka-port 0 --registry-port 0 >/dev/null & eval "$(deimos dev --print-env)"   # scripts: free ports`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(c.Context(), o)
			}
			return run(c.Context(), f, o)
		},
	}
	fl := c.Flags()
	fl.StringVar(&o.host, "host", "127.0.0.1", "address to listen on")
	fl.IntVar(&o.kafkaPort, "kafka-port", 9092, "Kafka broker port (0 picks a free port)")
	fl.IntVar(&o.registryPort, "registry-port", 8081, "schema registry port (0 picks a free port)")
	fl.IntVar(&o.partitions, "partitions", 3, "partitions of topics created at start and auto-created topics")
	fl.StringSliceVar(&o.topics, "topic", nil, "`TOPIC` to create at start (repeatable)")
	fl.BoolVar(&o.noRegistry, "no-registry", false, "run the broker only")
	fl.BoolVar(&o.printEnv, "print-env", false, "print the export line of the deimos dev already running (from its state file), and exit")
	fl.StringVar(&o.stateFile, "state-file", defaultStateFile(), "where a running dev keeps its export line")
	fl.DurationVar(&o.wait, "wait", 10*time.Second, "--print-env: how long to wait for a dev that is starting")
	return c
}

func run(ctx context.Context, f *cmdutil.Factory, o *Options) error {
	ctx, stop := cmdutil.SignalContext(ctx)
	defer stop()
	if o.printEnv {
		exp, err := printEnv(ctx, o.stateFile, o.wait)
		if err != nil {
			return err
		}
		fmt.Fprintln(f.IO.Out, exp)
		return nil
	}
	env, err := devenv.Start(devenv.Options{
		Host: o.host, KafkaPort: o.kafkaPort, RegistryPort: o.registryPort,
		Partitions: o.partitions, Topics: o.topics, NoRegistry: o.noRegistry,
		Interceptors: registryInterceptors,
	})
	if err != nil {
		return err
	}
	defer env.Close()
	fmt.Fprintln(f.IO.ErrOut, "deimos dev: in-memory Kafka broker and schema registry; Ctrl-C to stop")
	fmt.Fprintln(f.IO.Out, env.String())
	exp := "export " + config.Env("brokers") + "=" + env.Brokers[0]
	if env.URL != "" {
		exp += " " + config.Env("registry-url") + "=" + env.URL
	}
	fmt.Fprintln(f.IO.Out, exp)
	remove, err := writeState(o.stateFile, exp)
	if err != nil {
		return err
	}
	defer remove()
	<-ctx.Done()
	fmt.Fprintln(f.IO.ErrOut, "deimos dev: stopped")
	return nil
}
