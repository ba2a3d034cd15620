package testenv

import (
	"regexp"
	"strings"
)

var (
	bareVarchar = regexp.MustCompile(`(?i)\bvarchar\b(\s*\()?`)
	timestampRE = regexp.MustCompile(`(?i)\btimestamp\b`)
)

// DDL adapts a test's CREATE TABLE, written as for PostgreSQL, to the
// dialect ("sqlite", "postgres", "mysql"), so one statement serves every
// database in testenv.Dialects. On MySQL/MariaDB a varchar without a length
// gets 255 (a length is required there) and timestamp becomes datetime(6)
// (MySQL's TIMESTAMP converts time zones; Rails creates DATETIME). Other
// dialects get the statement unchanged.
func DDL(dialect, q string) string {
	if dialect != "mysql" {
		return q
	}
	q = bareVarchar.ReplaceAllStringFunc(q, func(m string) string {
		if strings.HasSuffix(m, "(") {
			return m
		}
		return "varchar(255)"
	})
	return timestampRE.ReplaceAllString(q, "datetime(6)")
}
