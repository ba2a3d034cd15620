// Package migrate is the `deimos migrate` command.
package migrate

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/deimos-cli/deimos/internal/cmdutil"
	"github.com/deimos-cli/deimos/pkg/config"
	"github.com/deimos-cli/deimos/pkg/db"
	"github.com/deimos-cli/deimos/pkg/errs"
	"github.com/deimos-cli/deimos/pkg/migrate"
)

// NewCmd returns the `migrate` command.
func NewCmd(f *cmdutil.Factory) *cobra.Command {
	c := &cobra.Command{
		Use:   "migrate",
		Short: "Create and upgrade the tables deimos shares with Deimos",
		Long: `Create the tables Deimos and phobos_db_checkpoint use, with exactly their
column names, types, nullability, defaults and index names, so that Ruby and Go
processes can share one database.

Groups: outbox (kafka_messages, kafka_topic_info), poller (deimos_poll_info),
checkpoint (phobos_db_checkpoint_events, phobos_db_checkpoint_failures),
deadletter (deimos_dead_letters, ours: too-large messages the relay could not
send). Opt-in: headers (a nullable kafka_messages.headers column).

Tables that already exist (created by the Rails generators) are adopted:
recorded in deimos_schema_migrations and never altered.`,
	}
	c.AddCommand(NewCmdUp(f, nil), NewCmdStatus(f, nil), NewCmdSQL(f, nil), NewCmdGenTable(f, nil))
	return c
}

// openDB opens the configured database; create is for `migrate up`, the
// only command that may create a SQLite file.
func openDB(ctx context.Context, f *cmdutil.Factory, create bool) (*db.DB, *config.Config, error) {
	cfg, err := f.Config()
	if err != nil {
		return nil, nil, err
	}
	open := cmdutil.OpenDB
	if create {
		open = cmdutil.CreateDB
	}
	d, err := open(ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	return d, cfg, nil
}

// UpOptions are `migrate up`'s flags.
type UpOptions struct{ Only []string }

// NewCmdUp returns `migrate up`; runF replaces the run (tests).
func NewCmdUp(f *cmdutil.Factory, runF func(context.Context, *UpOptions) error) *cobra.Command {
	o := &UpOptions{}
	c := &cobra.Command{
		Use:   "up [--only GROUP,...]",
		Short: "Create the missing tables (adopting existing Deimos tables as they are)",
		Example: `  deimos migrate up --db postgres://app@db/app        # [needs PostgreSQL]
  deimos migrate up --db mysql://app:secret@db:3306/app   # [needs MySQL]
  deimos migrate up --only outbox,deadletter --db sqlite:app.db
  deimos migrate up --only headers      # opt-in kafka_messages.headers column`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if _, err := migrate.Select(o.Only); err != nil {
				return err // an unknown group: before a database (or a SQLite file) is opened
			}
			if runF != nil {
				return runF(c.Context(), o)
			}
			d, _, err := openDB(c.Context(), f, true)
			if err != nil {
				return err
			}
			defer d.Close()
			names, err := migrate.Up(c.Context(), d, o.Only)
			for _, n := range names {
				how := "created"
				if st, serr := migrate.Status(c.Context(), d); serr == nil {
					for _, s := range st {
						if s.Name == n && s.Adopted {
							how = "adopted existing"
						}
					}
				}
				fmt.Fprintf(f.IO.Out, "%s %s\n", how, n)
			}
			if err != nil {
				return err
			}
			if len(names) == 0 {
				fmt.Fprintf(f.IO.ErrOut, "migrate: %s is up to date\n", d.URL)
			}
			return nil
		},
	}
	c.Flags().StringSliceVar(&o.Only, "only", nil, "`GROUPS` to apply: outbox, poller, checkpoint, deadletter, headers (default: all but headers)")
	return c
}

// StatusOptions are `migrate status`'s flags.
type StatusOptions struct{ Output cmdutil.Format }

// NewCmdStatus returns `migrate status`; runF replaces the run (tests).
func NewCmdStatus(f *cmdutil.Factory, runF func(context.Context, *StatusOptions) error) *cobra.Command {
	o := &StatusOptions{}
	c := &cobra.Command{
		Use:   "status",
		Short: "Show which migrations are applied, adopted or pending",
		Example: `  deimos migrate status --db postgres://app@db/app   # [needs PostgreSQL]
  deimos migrate status --output json`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(c.Context(), o)
			}
			d, _, err := openDB(c.Context(), f, false)
			if err != nil {
				return err
			}
			defer d.Close()
			st, err := migrate.Status(c.Context(), d)
			if err != nil {
				return errs.Failedf("migrate status: %w", err)
			}
			if o.Output.JSON() {
				return cmdutil.WriteJSON(f.IO, st)
			}
			t := cmdutil.NewTable(f.IO, "MIGRATION", "STATE", "APPLIED AT", "NOTES")
			for _, s := range st {
				state, at, notes := "pending", "", ""
				switch {
				case s.Applied && s.Adopted:
					state = "adopted"
				case s.Applied:
					state = "applied"
				case s.Present:
					state = "present (not recorded)"
				case s.OptIn:
					state = "not applied (opt-in)"
				}
				if !s.AppliedAt.IsZero() {
					at = s.AppliedAt.Format("2006-01-02 15:04:05")
				}
				if len(s.MissingColumns) > 0 {
					notes = "missing columns: " + strings.Join(s.MissingColumns, ", ")
				}
				t.Row(s.Name, state, at, notes)
			}
			return t.Flush()
		},
	}
	cmdutil.AddOutputFlag(c, &o.Output)
	return c
}

// SQLOptions are `migrate sql`'s flags.
type SQLOptions struct {
	Dialect string // "": the configured database's
	Only    []string
}

// NewCmdSQL returns `migrate sql`; runF replaces the run (tests).
func NewCmdSQL(f *cmdutil.Factory, runF func(context.Context, *SQLOptions) error) *cobra.Command {
	o := &SQLOptions{}
	c := &cobra.Command{
		Use:   "sql --dialect sqlite|postgres|mysql [--only GROUP,...]",
		Short: "Print the DDL for DBAs who apply schema changes themselves",
		Long: `Print the CREATE TABLE and CREATE INDEX statements that 'migrate up' runs,
for one dialect, without connecting to any database. Without --dialect the
dialect of the configured database URL is used.`,
		Example: `  deimos migrate sql --dialect postgres > deimos.sql
  deimos migrate sql --dialect mysql --only outbox`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(c.Context(), o)
			}
			dialect := o.Dialect
			if dialect == "" {
				cfg, err := f.Config()
				if err != nil {
					return err
				}
				if dialect = db.DialectName(cfg.Database.URL); dialect == "" {
					dialect = "sqlite"
				}
			}
			s, err := migrate.SQL(dialect, o.Only)
			if err != nil {
				return err
			}
			_, err = fmt.Fprint(f.IO.Out, s)
			return err
		},
	}
	c.Flags().StringVar(&o.Dialect, "dialect", "", "sqlite, postgres or mysql (default: the configured database's)")
	c.Flags().StringSliceVar(&o.Only, "only", nil, "`GROUPS`: outbox, poller, checkpoint, deadletter, headers (default: all but headers)")
	return c
}
