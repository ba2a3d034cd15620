package db

import (
	"errors"

	"github.com/go-sql-driver/mysql"
)

// mysqlClass reads go-sql-driver/mysql's errors: the server's error number
// in *mysql.MySQLError (the same numbers on MySQL 8 and MariaDB, except
// where noted) and the driver's broken-connection errors.
func mysqlClass(err error) class {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return mysqlNumberClass(me.Number)
	}
	if errors.Is(err, mysql.ErrInvalidConn) || errors.Is(err, mysql.ErrPktSync) || errors.Is(err, mysql.ErrPktSyncMul) {
		// The connection broke or lost track of the protocol: the pool
		// drops it and a new one may work.
		return classConn
	}
	return 0
}

// mysqlNumberClass maps a server error number
// (https://dev.mysql.com/doc/mysql-errors/8.0/en/server-error-reference.html,
// https://mariadb.com/kb/en/mariadb-error-code-reference/).
func mysqlNumberClass(n uint16) class {
	switch n {
	case 1040, // ER_CON_COUNT_ERROR: too many connections
		1053, // ER_SERVER_SHUTDOWN
		1927, // MariaDB ER_CONNECTION_KILLED
		2006, // CR_SERVER_GONE_ERROR (from a proxy)
		2013, // CR_SERVER_LOST (from a proxy)
		4031: // MySQL ER_CLIENT_INTERACTION_TIMEOUT: closed for inactivity
		return classConn
	case 1213, // ER_LOCK_DEADLOCK: the transaction was rolled back
		1205, // ER_LOCK_WAIT_TIMEOUT
		3572: // MySQL ER_LOCK_NOWAIT
		return classDeadlock
	case 1062, // ER_DUP_ENTRY
		1586, // ER_DUP_ENTRY_WITH_KEY_NAME
		1022: // ER_DUP_KEY
		return classUnique | classRow
	case 1048, // ER_BAD_NULL_ERROR: column cannot be null
		1364, // ER_NO_DEFAULT_FOR_FIELD
		1264, // ER_WARN_DATA_OUT_OF_RANGE (strict mode)
		1265, // WARN_DATA_TRUNCATED
		1292, // ER_TRUNCATED_WRONG_VALUE: incorrect datetime/number
		1366, // ER_TRUNCATED_WRONG_VALUE_FOR_FIELD: incorrect integer/string value
		1367, // ER_ILLEGAL_VALUE_FOR_TYPE
		1406, // ER_DATA_TOO_LONG
		1690, // ER_DATA_OUT_OF_RANGE
		1451, // ER_ROW_IS_REFERENCED_2: foreign key
		1452, // ER_NO_REFERENCED_ROW_2: foreign key
		3140, // MySQL ER_INVALID_JSON_TEXT
		3819, // MySQL ER_CHECK_CONSTRAINT_VIOLATED
		4025: // MariaDB ER_CONSTRAINT_FAILED (CHECK, JSON_VALID of a json column)
		return classRow
	case 1044, // ER_DBACCESS_DENIED_ERROR
		1142, // ER_TABLEACCESS_DENIED_ERROR
		1143, // ER_COLUMNACCESS_DENIED_ERROR
		1227: // ER_SPECIFIC_ACCESS_DENIED_ERROR: needs PROCESS, SUPER, …
		return classPrivilege
	case 1054: // ER_BAD_FIELD_ERROR: unknown column
		return classColumn
	}
	return 0
}
