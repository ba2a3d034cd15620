//go:build !cgo

package db

// SQLiteBuilt reports whether this binary has SQLite: a CGO_ENABLED=0
// build has none, and says so when a sqlite: URL is given.
const SQLiteBuilt = false
