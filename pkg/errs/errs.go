// Package errs holds the typed errors that decide a command's exit code.
//
// Engines wrap their errors with Usage, Failed or Unavailable; the command
// layer maps them to exit codes in exactly one place (ExitCode). An error
// with no kind is treated as a failure of the job (exit 1).
package errs

import (
	"context"
	"errors"
	"fmt"
)

// Exit codes (README.md, "Exit codes"): scripts rely on them.
const (
	CodeOK          = 0 // success
	CodeFailed      = 1 // the check or job found a failure
	CodeUsage       = 2 // usage or configuration error
	CodeUnavailable = 3 // a required service could not be reached
	CodeWaiting     = 4 // opt-in: work was left waiting behind another process's lock
)

// Kind says which exit code an error maps to.
type Kind int

const (
	KindFailed Kind = iota + 1
	KindUsage
	KindUnavailable
	KindWaiting
)

// Error carries a Kind alongside the wrapped error.
type Error struct {
	Kind Kind
	Err  error
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

func wrap(k Kind, err error) error {
	if err == nil {
		return nil
	}
	return &Error{Kind: k, Err: err}
}

// Usage marks err as a usage or configuration error (exit 2).
func Usage(err error) error { return wrap(KindUsage, err) }

// Usagef formats a usage error (exit 2).
func Usagef(format string, a ...any) error { return Usage(fmt.Errorf(format, a...)) }

// Failed marks err as a failure found by the job (exit 1).
func Failed(err error) error { return wrap(KindFailed, err) }

// Failedf formats a job failure (exit 1).
func Failedf(format string, a ...any) error { return Failed(fmt.Errorf(format, a...)) }

// Unavailable marks err as an unreachable service: broker, registry or database (exit 3).
func Unavailable(err error) error { return wrap(KindUnavailable, err) }

// Unavailablef formats an unreachable-service error (exit 3).
func Unavailablef(format string, a ...any) error { return Unavailable(fmt.Errorf(format, a...)) }

// Waiting marks err as work left undone because another process holds its
// lock (exit 4). Only commands asked to report that (outbox run --once
// --fail-on-locked) return it, so cron jobs can tell it from a failure.
func Waiting(err error) error { return wrap(KindWaiting, err) }

// Waitingf formats a Waiting error (exit 4).
func Waitingf(format string, a ...any) error { return Waiting(fmt.Errorf(format, a...)) }

// KindOf returns the outermost Kind found in err's chain, KindFailed when none.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindFailed
}

// ExitCode maps an error to the exit code of the command-line contract.
// A context cancellation (Ctrl-C, SIGTERM) is a clean stop: exit 0.
func ExitCode(err error) int {
	if err == nil || errors.Is(err, context.Canceled) {
		return CodeOK
	}
	switch KindOf(err) {
	case KindUsage:
		return CodeUsage
	case KindUnavailable:
		return CodeUnavailable
	case KindWaiting:
		return CodeWaiting
	default:
		return CodeFailed
	}
}
