//go:build cgo

package db

import (
	"errors"
	"strings"

	"github.com/mattn/go-sqlite3"
)

// sqliteClass reads go-sqlite3's result codes. go-sqlite3 needs cgo; a build
// without it has no SQLite and uses errors_nosqlite.go.
func sqliteClass(err error) class {
	var se sqlite3.Error
	if !errors.As(err, &se) {
		return 0
	}
	switch se.Code {
	case sqlite3.ErrBusy, // "database is locked": another connection writes
		sqlite3.ErrLocked: // "database table is locked": within one connection
		return classDeadlock
	case sqlite3.ErrConstraint:
		if se.ExtendedCode == sqlite3.ErrConstraintUnique || se.ExtendedCode == sqlite3.ErrConstraintPrimaryKey {
			return classUnique | classRow
		}
		return classRow
	case sqlite3.ErrMismatch, sqlite3.ErrTooBig:
		return classRow
	case sqlite3.ErrError:
		// SQLite has no code of its own for an unknown column: the generic
		// SQLITE_ERROR carries it in the message, in these two forms
		// (SELECT/UPDATE/WHERE, and INSERT's column list).
		if msg := se.Error(); strings.HasPrefix(msg, "no such column: ") || strings.Contains(msg, " has no column named ") {
			return classColumn
		}
	}
	return 0
}
