// Package e2e holds tests that run the real deimos binary across every
// command at once, for promises no single command owns: secrets never
// printed, and no table command running without an explicit database.
package e2e
