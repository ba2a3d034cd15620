//go:build cgo

package db

// SQLiteBuilt reports whether this binary has SQLite (go-sqlite3 needs cgo).
const SQLiteBuilt = true
