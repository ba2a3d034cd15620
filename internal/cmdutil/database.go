package cmdutil

import (
	"context"

	"github.com/deimos-cli/deimos/pkg/config"
	"github.com/deimos-cli/deimos/pkg/db"
	"github.com/deimos-cli/deimos/pkg/errs"
	"github.com/deimos-cli/deimos/pkg/redact"
)

// NoDatabaseMsg names the three ways to give a database.
const NoDatabaseMsg = "no database configured: give --db URL, set DEIMOS_DB, or set database.url in deimos.yaml"

// OpenDB opens the configured database for a command that reads or writes
// tables. There is no default database: without one it is a usage error
// (exit 2), and a SQLite file that does not exist is refused, never created.
//
// A MySQL/MariaDB URL is refused (exit 2) until the command's engine is
// proven on MySQL; commands that are call OpenDBWithMySQL. When every
// command is, OpenDB accepts MySQL and OpenDBWithMySQL goes.
func OpenDB(ctx context.Context, cfg *config.Config) (*db.DB, error) {
	if cfg.Database.URL == "" {
		return nil, errs.Usagef("%s", NoDatabaseMsg)
	}
	if db.DialectName(cfg.Database.URL) == "mysql" {
		return nil, mysqlNotYet(cfg.Database.URL)
	}
	return db.Open(ctx, cfg.Database.URL)
}

// OpenDBWithMySQL is OpenDB for the commands that also run on MySQL/MariaDB.
func OpenDBWithMySQL(ctx context.Context, cfg *config.Config) (*db.DB, error) {
	if cfg.Database.URL == "" {
		return nil, errs.Usagef("%s", NoDatabaseMsg)
	}
	return db.Open(ctx, cfg.Database.URL)
}

// CreateDB is OpenDBWithMySQL for `migrate up`, the one command that may
// create a SQLite file.
func CreateDB(ctx context.Context, cfg *config.Config) (*db.DB, error) {
	if cfg.Database.URL == "" {
		return nil, errs.Usagef("%s", NoDatabaseMsg)
	}
	return db.OpenOrCreate(ctx, cfg.Database.URL)
}

func mysqlNotYet(url string) error {
	return errs.Usagef("database %s: this command does not run on MySQL/MariaDB yet (deimos migrate does); use a sqlite: or postgres:// URL", redact.DSN(url))
}
