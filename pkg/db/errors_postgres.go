package db

import (
	"errors"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
)

// postgresClass reads pgx's errors: the server's SQLSTATE in *pgconn.PgError
// and pgconn's own connection errors.
func postgresClass(err error) class {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return sqlstateClass(pe.Code)
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) || errors.Is(err, pgconn.ErrConnClosed) || pgconn.SafeToRetry(err) {
		// SafeToRetry: pgconn failed before sending anything (a closed or
		// busy connection, a dial error), so the statement did not run.
		return classConn
	}
	return 0
}

// sqlstateClass maps a PostgreSQL SQLSTATE
// (https://www.postgresql.org/docs/current/errcodes-appendix.html).
func sqlstateClass(code string) class {
	switch {
	case strings.HasPrefix(code, "08"), // connection exception
		code == "57P01", // admin_shutdown: terminating connection due to administrator command
		code == "57P02", // crash_shutdown
		code == "57P03": // cannot_connect_now: the server is starting or stopping
		return classConn
	case code == "40P01", // deadlock_detected
		code == "40001", // serialization_failure
		code == "55P03": // lock_not_available: lock_timeout expired, NOWAIT
		return classDeadlock
	case code == "23505": // unique_violation
		return classUnique | classRow
	case strings.HasPrefix(code, "22"), // data exception: a value the column cannot hold
		strings.HasPrefix(code, "23"): // integrity constraint violation
		return classRow
	case code == "42501": // insufficient_privilege
		return classPrivilege
	case code == "42703": // undefined_column
		return classColumn
	}
	return 0
}
