package db

import (
	"context"
	"time"
)

// SleepCtx waits d, or until ctx is done, whichever comes first, and
// returns ctx.Err() in the second case. d <= 0 does not wait.
func SleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Backoff says how often, and how far apart, Retry tries.
type Backoff struct {
	Attempts int           // tries in all, the first included
	Wait     time.Duration // before the second try
	MaxWait  time.Duration // the wait doubles up to this (0: Wait, fixed)
}

// Retry runs fn until it succeeds, fails with an error that is not
// IsTransient, has run b.Attempts times, or ctx is done, and returns fn's
// last error. onRetry (may be nil) is called before each wait, with the
// failed attempt's number (1-based) and the wait. To let work in flight
// finish after a stop request, pass context.WithoutCancel(ctx).
func Retry(ctx context.Context, b Backoff, fn func() error, onRetry func(err error, attempt int, wait time.Duration)) error {
	wait := b.Wait
	for attempt := 1; ; attempt++ {
		err := fn()
		if err == nil || attempt >= b.Attempts || !IsTransient(err) || ctx.Err() != nil {
			return err
		}
		if onRetry != nil {
			onRetry(err, attempt, wait)
		}
		if SleepCtx(ctx, wait) != nil {
			return err
		}
		wait = min(wait*2, max(b.MaxWait, b.Wait))
	}
}
