package cmdutil

import (
	"context"

	"github.com/deimos-cli/deimos/pkg/config"
	"github.com/deimos-cli/deimos/pkg/db"
	"github.com/deimos-cli/deimos/pkg/errs"
)

// NoDatabaseMsg names the three ways to give a database.
const NoDatabaseMsg = "no database configured: give --db URL, set DEIMOS_DB, or set database.url in deimos.yaml"

// OpenDB opens the configured database (SQLite, PostgreSQL or
// MySQL/MariaDB) for a command that reads or writes tables. There is no
// default database: without one it is a usage error (exit 2), and a SQLite
// file that does not exist is refused, never created.
func OpenDB(ctx context.Context, cfg *config.Config) (*db.DB, error) {
	if cfg.Database.URL == "" {
		return nil, errs.Usagef("%s", NoDatabaseMsg)
	}
	return db.Open(ctx, cfg.Database.URL)
}

// CreateDB is OpenDB for `migrate up`, the one command that may
// create a SQLite file.
func CreateDB(ctx context.Context, cfg *config.Config) (*db.DB, error) {
	if cfg.Database.URL == "" {
		return nil, errs.Usagef("%s", NoDatabaseMsg)
	}
	return db.OpenOrCreate(ctx, cfg.Database.URL)
}
