//go:build !cgo

package db

// sqliteClass: without cgo there is no SQLite driver, so no SQLite errors.
func sqliteClass(error) class { return 0 }
