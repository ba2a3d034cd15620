// Package progress is how a long-running engine tells whoever runs it
// that it is alive: it made progress, or it is waiting for a reason that is
// not a fault (no records yet, the pause between polls). A supervisor that
// hears neither for long calls the job wedged (docs/start.md).
package progress

// Reporter receives an engine's liveness reports. Calls are cheap and safe
// from any goroutine; engines call them at loop turns, never per record.
type Reporter interface {
	// Progress says work was done (a batch handled, a pass completed).
	Progress()
	// Idle says the engine is waiting, and why ("waiting for records");
	// Idle("") says it is busy again. A busy engine that reports no
	// Progress for long is wedged; an idle one is not.
	Idle(reason string)
}

// Or returns r, or a Reporter that ignores every report when r is nil, so
// engines can call it unconditionally.
func Or(r Reporter) Reporter {
	if r == nil {
		return nop{}
	}
	return r
}

type nop struct{}

func (nop) Progress()   {}
func (nop) Idle(string) {}
