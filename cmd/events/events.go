// Package events is the `deimos events` command: the phobos_db_checkpoint
// store (events and failures) from the shell, and its HTTP API.
package events

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/deimos-cli/deimos/internal/cmdutil"
	"github.com/deimos-cli/deimos/pkg/checkpoint"
	"github.com/deimos-cli/deimos/pkg/config"
	"github.com/deimos-cli/deimos/pkg/errs"
	"github.com/deimos-cli/deimos/pkg/httpguard"
)

// NewCmd returns the `events` command.
func NewCmd(f *cmdutil.Factory) *cobra.Command {
	c := &cobra.Command{
		Use:   "events",
		Short: "Inspect and retry checkpointed events (phobos_db_checkpoint)",
		Long: `The checkpoint store that 'deimos consume --exec CMD --checkpoint' (and Ruby's
phobos_db_checkpoint) writes: acknowledged events in phobos_db_checkpoint_events and
messages that failed after max_retries in phobos_db_checkpoint_failures.`,
	}
	c.AddCommand(NewCmdList(f, nil), NewCmdShow(f, nil), NewCmdRetry(f, nil), NewCmdDelete(f, nil), NewCmdServe(f, nil))
	return c
}

func openStore(ctx context.Context, f *cmdutil.Factory) (*config.Config, *checkpoint.Store, func(), error) {
	cfg, err := f.Config()
	if err != nil {
		return nil, nil, nil, err
	}
	d, err := cmdutil.OpenDB(ctx, cfg)
	if err != nil {
		return nil, nil, nil, err
	}
	st, err := checkpoint.NewStore(ctx, d)
	if err != nil {
		d.Close()
		return nil, nil, nil, errs.Usage(err)
	}
	return cfg, st, func() { d.Close() }, nil
}

func parseID(s string) (int64, error) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, errs.Usagef("id %q: must be a positive integer", s)
	}
	return id, nil
}

// ListOptions are `events list`'s flags.
type ListOptions struct {
	Failures bool
	Filter   checkpoint.Filter
	Output   cmdutil.Format
}

// NewCmdList returns `events list`; runF replaces the run (tests).
func NewCmdList(f *cmdutil.Factory, runF func(context.Context, *ListOptions) error) *cobra.Command {
	o := &ListOptions{}
	failures, output, fl := &o.Failures, &o.Output, &o.Filter
	c := &cobra.Command{
		Use:   "list",
		Short: "List stored events (or failures with --failures), newest event_time first",
		Example: `  deimos events list --topic orders --limit 5
  deimos events list --failures --group billing --output json`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if fl.Limit < 0 || fl.Offset < 0 {
				return errs.Usagef("--limit and --offset must be 0 or more")
			}
			if runF != nil {
				return runF(c.Context(), o)
			}
			_, st, done, err := openStore(c.Context(), f)
			if err != nil {
				return err
			}
			defer done()
			var rows any
			var lines [][]any
			if *failures {
				fs, err := st.ListFailures(c.Context(), *fl)
				if err != nil {
					return errs.Failed(err)
				}
				rows = fs
				for _, x := range fs {
					lines = append(lines, []any{x.ID, tm(x.CreatedAt), s(x.Topic), s(x.GroupID), s(x.EntityID), s(x.ErrorClass), oneLine(s(x.ErrorMessage))})
				}
			} else {
				es, err := st.ListEvents(c.Context(), *fl)
				if err != nil {
					return errs.Failed(err)
				}
				rows = es
				for _, x := range es {
					lines = append(lines, []any{x.ID, tm(x.EventTime), s(x.Topic), s(x.GroupID), s(x.EntityID), s(x.EventType), s(x.Checksum)})
				}
			}
			if output.JSON() {
				return cmdutil.WriteJSON(f.IO, rows)
			}
			t := cmdutil.NewTable(f.IO, "ID", "EVENT_TIME", "TOPIC", "GROUP", "ENTITY_ID", "EVENT_TYPE", "CHECKSUM")
			if *failures {
				t = cmdutil.NewTable(f.IO, "ID", "CREATED_AT", "TOPIC", "GROUP", "ENTITY_ID", "ERROR_CLASS", "ERROR")
			}
			for _, l := range lines {
				t.Row(l...)
			}
			return t.Flush()
		},
	}
	c.Flags().BoolVar(failures, "failures", false, "list failures instead of events")
	c.Flags().StringVar(&fl.Topic, "topic", "", "only this topic")
	c.Flags().StringVar(&fl.GroupID, "group", "", "only this group_id")
	c.Flags().StringVar(&fl.EntityID, "entity-id", "", "only this entity_id")
	c.Flags().StringVar(&fl.EventType, "event-type", "", "only this event_type")
	c.Flags().IntVar(&fl.Limit, "limit", checkpoint.DefaultLimit, "at most this many rows")
	c.Flags().IntVar(&fl.Offset, "offset", 0, "skip this many rows")
	cmdutil.AddOutputFlag(c, output)
	return c
}

func s(p *string) string {
	if p == nil {
		return "-"
	}
	return *p
}

func tm(t *checkpoint.Time) string {
	if t == nil {
		return "-"
	}
	return t.UTC().Format(checkpoint.TimeLayout)
}

func oneLine(x string) string {
	x = strings.ReplaceAll(x, "\n", " ")
	if len(x) > 80 {
		x = x[:77] + "..."
	}
	return x
}

// ShowOptions are `events show`'s.
type ShowOptions struct {
	ID      int64
	Failure bool
}

// NewCmdShow returns `events show`; runF replaces the run (tests).
func NewCmdShow(f *cmdutil.Factory, runF func(context.Context, *ShowOptions) error) *cobra.Command {
	o := &ShowOptions{}
	c := &cobra.Command{
		Use:     "show ID",
		Short:   "Print one event (or failure with --failure) as the API's JSON",
		Example: "  deimos events show 42\n  deimos events show --failure 7",
		Args:    cmdutil.ExactArgs(1, "an ID"),
		RunE: func(c *cobra.Command, args []string) error {
			id, err := parseID(args[0])
			if err != nil {
				return err
			}
			o.ID = id
			if runF != nil {
				return runF(c.Context(), o)
			}
			failure := o.Failure
			_, st, done, err := openStore(c.Context(), f)
			if err != nil {
				return err
			}
			defer done()
			var v any
			if failure {
				v, err = st.GetFailure(c.Context(), id)
			} else {
				v, err = st.GetEvent(c.Context(), id)
			}
			if errors.Is(err, checkpoint.ErrNotFound) {
				what := "event"
				if failure {
					what = "failure"
				}
				return errs.Failedf("%s %d not found", what, id)
			}
			if err != nil {
				return errs.Failed(err)
			}
			return cmdutil.WriteJSON(f.IO, v)
		},
	}
	c.Flags().BoolVar(&o.Failure, "failure", false, "show a failure instead of an event")
	return c
}

// groupRunner re-runs a failure's handler: --exec when given, else the exec
// of the configured consumer whose group is the failure's group_id (as
// phobos_db_checkpoint finds the listener by group id).
type groupRunner struct {
	exec    string
	passEnv []string
	skip    int
	cfg     *config.Config
	stderr  io.Writer
	timeout time.Duration
}

func (g *groupRunner) Run(ctx context.Context, m checkpoint.Message) (checkpoint.Result, error) {
	cmd, skip := g.exec, g.skip
	passEnv := g.passEnv
	var fields checkpoint.Fields
	if cmd == "" {
		for _, c := range g.cfg.Consumers {
			if c.Group == m.Group && c.Exec != "" {
				cmd = c.Exec
				passEnv = append(append([]string(nil), c.PassEnv...), g.passEnv...)
				if c.SkipExitCode != nil {
					skip = *c.SkipExitCode
				}
				fields = checkpoint.Fields{EntityID: c.EntityIDField, EventTime: c.EventTimeField, EventType: c.EventTypeField, EventVersion: c.EventVersionFld}
				break
			}
		}
	}
	if cmd == "" {
		return checkpoint.Result{}, &checkpoint.HandlerError{Class: "Deimos::ConsumerNotFound", Message: fmt.Sprintf("no handler command for group id '%s': give --exec or a consumer with that group and exec in the config", m.Group)}
	}
	x := &checkpoint.Exec{Command: cmd, SkipExitCode: skip, Stderr: g.stderr, Timeout: g.timeout, PassEnv: passEnv}
	if err := x.Validate(); err != nil {
		return checkpoint.Result{}, &checkpoint.HandlerError{Class: "Deimos::ConsumerNotFound", Message: "handler command for group id '" + m.Group + "': " + err.Error()}
	}
	res, err := x.Run(ctx, m)
	if err == nil && res.Acked {
		a := fields.FromPayload(m.Payload).Merge(res.Ack)
		res.Ack = &a
	}
	return res, err
}

func addRunnerFlags(c *cobra.Command, g *groupRunner) {
	c.Flags().StringVar(&g.exec, "exec", "", "handler command to re-run failures with (default: the exec of the configured consumer with the failure's group)")
	c.Flags().StringSliceVar(&g.passEnv, "pass-env", nil, "also pass this variable of deimos's environment to the handler (`NAME` or PREFIX*; repeatable)")
	c.Flags().IntVar(&g.skip, "skip-exit-code", checkpoint.DefaultSkipExitCode, "the handler's exit status that means \"skipped\"")
	c.Flags().DurationVar(&g.timeout, "handler-timeout", 0, "kill a handler run after this long (0: no limit)")
}

// RetryOptions are `events retry`'s: the failure and how to re-run it.
type RetryOptions struct {
	ID     int64
	Runner *groupRunner
}

// NewCmdRetry returns `events retry`; runF replaces the run (tests).
func NewCmdRetry(f *cmdutil.Factory, runF func(context.Context, *RetryOptions) error) *cobra.Command {
	g := &groupRunner{}
	o := &RetryOptions{Runner: g}
	c := &cobra.Command{
		Use:   "retry ID",
		Short: "Re-run the handler for a failure; on success delete it (and store the event when acknowledged)",
		Long: `Re-runs the handler command with the failure's stored payload and metadata and
DEIMOS_RETRY_COUNT=0. On success the failure row is deleted and, when the handler
acknowledged, an event is stored. When the handler fails again the failure is kept
and the command exits 1 (the API answers 422).`,
		Example: "  deimos events retry 7\n  deimos events retry 8 --exec './handle-order.sh' --pass-env RAILS_ENV",
		Args:    cmdutil.ExactArgs(1, "a failure ID"),
		RunE: func(c *cobra.Command, args []string) error {
			id, err := parseID(args[0])
			if err != nil {
				return err
			}
			if err := checkpoint.CheckPassEnv(g.passEnv); err != nil {
				return errs.Usage(err)
			}
			o.ID = id
			if runF != nil {
				return runF(c.Context(), o)
			}
			cfg, st, done, err := openStore(c.Context(), f)
			if err != nil {
				return err
			}
			defer done()
			g.cfg, g.stderr = cfg, f.IO.ErrOut
			acked, err := checkpoint.Retry(c.Context(), st, g, checkpoint.Fields{}, id)
			if errors.Is(err, checkpoint.ErrNotFound) {
				return errs.Failedf("failure %d not found", id)
			}
			if errors.Is(err, checkpoint.ErrClaimed) {
				return errs.Failed(err)
			}
			if err != nil {
				return errs.Failedf("retry of failure %d: %w", id, err)
			}
			return cmdutil.WriteJSON(f.IO, map[string]bool{"acknowledged": acked})
		},
	}
	addRunnerFlags(c, g)
	return c
}

// DeleteOptions are `events delete`'s.
type DeleteOptions struct{ ID int64 }

// NewCmdDelete returns `events delete`; runF replaces the run (tests).
func NewCmdDelete(f *cmdutil.Factory, runF func(context.Context, *DeleteOptions) error) *cobra.Command {
	return &cobra.Command{
		Use:     "delete ID",
		Short:   "Delete a failure",
		Example: "  deimos events delete 7",
		Args:    cmdutil.ExactArgs(1, "a failure ID"),
		RunE: func(c *cobra.Command, args []string) error {
			id, err := parseID(args[0])
			if err != nil {
				return err
			}
			if runF != nil {
				return runF(c.Context(), &DeleteOptions{ID: id})
			}
			_, st, done, err := openStore(c.Context(), f)
			if err != nil {
				return err
			}
			defer done()
			if err := st.DeleteFailure(c.Context(), id); errors.Is(err, checkpoint.ErrNotFound) {
				return errs.Failedf("failure %d not found", id)
			} else if err != nil {
				return errs.Failed(err)
			}
			fmt.Fprintln(f.IO.Out, `{"acknowledged":true}`)
			return nil
		},
	}
}

// serveToken returns the bearer token from --token, --token-file or
// DEIMOS_EVENTS_TOKEN ("" when none is given).
func serveToken(f *cmdutil.Factory, token, tokenFile string) (string, error) {
	if token != "" && tokenFile != "" {
		return "", errs.Usagef("events serve: give --token or --token-file, not both")
	}
	if tokenFile != "" {
		b, err := os.ReadFile(tokenFile)
		if err != nil {
			return "", errs.Usagef("events serve: --token-file: %w", err)
		}
		if token = strings.TrimSpace(string(b)); token == "" {
			return "", errs.Usagef("events serve: --token-file %s is empty", tokenFile)
		}
		return token, nil
	}
	if token != "" {
		return token, nil
	}
	getenv := f.Getenv
	if getenv == nil {
		getenv = os.LookupEnv
	}
	token, _ = getenv("DEIMOS_EVENTS_TOKEN")
	return strings.TrimSpace(token), nil
}

// ServeOptions are `events serve`'s; Token is the one found (flag, file
// or DEIMOS_EVENTS_TOKEN), Host the --addr host.
type ServeOptions struct {
	Addr, Host, Token string
	AllowHosts        []string
	Runner            *groupRunner
	tokenFlag         string
	tokenFile         string
}

// NewCmdServe returns `events serve`; runF replaces the server (tests).
func NewCmdServe(f *cmdutil.Factory, runF func(context.Context, *ServeOptions) error) *cobra.Command {
	g := &groupRunner{}
	o := &ServeOptions{Runner: g}
	c := &cobra.Command{
		Use:   "serve",
		Short: "Serve the phobos_db_checkpoint events HTTP API",
		Long: `Serves the events API of phobos_db_checkpoint (same routes, parameters, order,
JSON shapes and status codes):

  GET    /ping                      PONG
  GET    /v1/events                 ?limit=20&offset=0&topic=&group_id=&entity_id=&event_type=
  GET    /v1/events/:id
  GET    /v1/failures               same parameters
  GET    /v1/failures/count         {"count": N}
  GET    /v1/failures/:id
  DELETE /v1/failures/:id           {"acknowledged": true}
  POST   /v1/failures/:id/retry     {"acknowledged": true|false}, 422 when the handler fails,
                                    409 while another retry of the same failure runs

Binds to 127.0.0.1 unless --addr says otherwise; a non-loopback address needs a token.
With a token (DEIMOS_EVENTS_TOKEN, --token-file, or --token, which 'ps' shows) every
route but /ping needs "Authorization: Bearer TOKEN".

Web pages cannot use the API: a request whose Host is not this server's address or
name (the --addr host; localhost, 127.0.0.1 and ::1 on loopback; --allow-host names)
is refused (403), and so is a POST or DELETE a browser marks as cross-origin (Origin,
Sec-Fetch-Site: 403) or whose Content-Type is not JSON (415).`,
		Example: `  deimos events serve --addr 127.0.0.1:9292
  DEIMOS_EVENTS_TOKEN=s3cret deimos events serve --addr 0.0.0.0:9292 --allow-host events.internal --exec ./handler.sh
  deimos events serve --addr 10.0.0.5:9292 --token-file /run/secrets/events-token   # [needs that address and token file]`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			token, err := serveToken(f, o.tokenFlag, o.tokenFile)
			if err != nil {
				return err
			}
			f.AddSecret(token)
			if err := checkpoint.CheckPassEnv(g.passEnv); err != nil {
				return errs.Usage(err)
			}
			host, _, err := net.SplitHostPort(o.Addr)
			if err != nil {
				return errs.Usagef("events serve: --addr %q: %w", o.Addr, err)
			}
			o.Token, o.Host = token, host
			if runF != nil {
				return runF(c.Context(), o)
			}
			return serve(c.Context(), f, o)
		},
	}
	c.Flags().StringVar(&o.Addr, "addr", "127.0.0.1:9292", "address to listen on (a non-loopback address needs a token)")
	c.Flags().StringVar(&o.tokenFlag, "token", "", "require this bearer token (visible in ps: prefer DEIMOS_EVENTS_TOKEN or --token-file); never logged")
	c.Flags().StringVar(&o.tokenFile, "token-file", "", "read the bearer token from this file (surrounding whitespace trimmed)")
	c.Flags().StringSliceVar(&o.AllowHosts, "allow-host", nil, "also answer to this `HOST` name (repeatable), e.g. the DNS name clients use")
	addRunnerFlags(c, g)
	return c
}

// serve listens and answers the API until the context is done.
func serve(ctx context.Context, f *cmdutil.Factory, o *ServeOptions) error {
	addr, token, host, g := o.Addr, o.Token, o.Host, o.Runner
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return errs.Usagef("events serve: listen on %s: %w", addr, err)
	}
	defer ln.Close()
	if ta, ok := ln.Addr().(*net.TCPAddr); ok && !ta.IP.IsLoopback() && token == "" {
		return errs.Usagef("events serve: --addr %s is not a loopback address: other hosts could read every failure and run retries; give a token (DEIMOS_EVENTS_TOKEN or --token-file) or bind 127.0.0.1", addr)
	}
	ctx, stop := cmdutil.SignalContext(ctx)
	defer stop()
	cfg, st, done, err := openStore(ctx, f)
	if err != nil {
		return err
	}
	defer done()
	g.cfg, g.stderr = cfg, f.IO.ErrOut
	log := f.Logger(cfg)
	h := checkpoint.NewAPI(checkpoint.APIOptions{Store: st, Runner: g, Token: token,
		Hosts:  httpguard.HostsFor(host, ln.Addr(), o.AllowHosts),
		Redact: f.Redact,
		Log: func(method, path string, status int, d time.Duration) {
			log.Info("request", "method", method, "path", path, "status", status, "duration", d.Round(time.Microsecond))
		}})
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(f.IO.ErrOut, "events API listening on http://%s\n", ln.Addr())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return errs.Failed(err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}
