package db

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"syscall"
)

// The one vocabulary for database errors. Every package that decides whether
// to retry, to fall back row by row, or to report "database unreachable"
// (exit 3) asks these functions; none looks at error text. Each dialect's
// driver errors are read by type (errors.As), in errors_<dialect>.go:
//
//	           SQLite (sqlite3.Error)   PostgreSQL (SQLSTATE)       MySQL/MariaDB (error number)
//	conn       -                        08xxx, 57P01-57P03,         1040, 1053, 1927, 2006, 2013, 4031,
//	                                    ConnectError, SafeToRetry   ErrInvalidConn, ErrPktSync
//	deadlock   BUSY, LOCKED             40P01, 40001, 55P03         1213, 1205, 3572
//	unique     CONSTRAINT_UNIQUE, _PK   23505                       1062, 1586, 1022
//	row        CONSTRAINT, MISMATCH,    classes 22 and 23           1048, 1264, 1366, 1406, 1452,
//	           TOOBIG                                               3819, 4025, …
//	privilege  -                        42501                       1044, 1142, 1143, 1227
//	column     ERROR "no such column",  42703                       1054
//	           "has no column named"
//
// plus, for every driver, the network and database/sql errors in connClass.

// class is a set of the categories an error belongs to.
type class uint8

const (
	classConn      class = 1 << iota // the connection failed or was lost
	classDeadlock                    // the transaction lost a lock race: run it again
	classUnique                      // a unique index or primary key refused a row
	classRow                         // one row's own data was refused
	classPrivilege                   // the user lacks a privilege the statement needs
	classColumn                      // the statement names a column the table does not have
)

func classify(err error) class {
	if err == nil {
		return 0
	}
	c := connClass(err) | sqliteClass(err) | postgresClass(err) | mysqlClass(err)
	if errors.Is(err, context.Canceled) {
		c &^= classConn // we gave up waiting; the connection may be fine
	}
	return c
}

// IsTransient reports an error after which the same work, tried again (on a
// new connection if need be), may succeed: a lost or refused connection, a
// deadlock, a serialization failure or a lock wait timeout.
func IsTransient(err error) bool { return classify(err)&(classConn|classDeadlock) != 0 }

// IsConnError reports an error that means the database, or the network to
// it, is unreachable or dropped the connection. A cancelled context is not
// one; a deadline that expired is (the database did not answer in time).
func IsConnError(err error) bool { return classify(err)&classConn != 0 }

// IsDeadlock reports the errors Deimos retries a whole transaction on:
// deadlocks, serialization failures and lock (wait) timeouts, and SQLite's
// "database is locked" (BUSY) and "table is locked" (LOCKED).
func IsDeadlock(err error) bool { return classify(err)&classDeadlock != 0 }

// IsUniqueViolation reports a row refused by a unique index or primary key.
func IsUniqueViolation(err error) bool { return classify(err)&classUnique != 0 }

// IsRowError reports an error caused by one row's own data rather than by
// the table, the statement or the connection: a constraint the row breaks
// or a value the column cannot hold. Writing the other rows may still work.
func IsRowError(err error) bool { return classify(err)&classRow != 0 }

// IsPrivilegeError reports a statement refused because the database user
// lacks a privilege it needs (MySQL's PROCESS for information_schema.innodb_trx,
// say). Running it again will not help; granting the privilege will.
func IsPrivilegeError(err error) bool { return classify(err)&classPrivilege != 0 }

// IsUndefinedColumn reports a statement naming a column the table does not
// have (an opt-in column, such as kafka_messages.headers, not migrated).
func IsUndefinedColumn(err error) bool { return classify(err)&classColumn != 0 }

// connClass covers what any driver returns when the connection is gone:
// network errors (refused, reset, timed out), EOF in the middle of a reply,
// and database/sql's own bad-connection errors.
func connClass(err error) class {
	var ne net.Error
	switch {
	case errors.As(err, &ne),
		errors.Is(err, driver.ErrBadConn), errors.Is(err, sql.ErrConnDone),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.ECONNREFUSED),
		errors.Is(err, syscall.ECONNABORTED), errors.Is(err, syscall.EPIPE):
		return classConn
	}
	return 0
}
