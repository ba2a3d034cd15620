package db

import (
	"context"
	"errors"
	"io"
	"reflect"
	"testing"
	"time"
)

func TestSleepCtx(t *testing.T) {
	if err := SleepCtx(context.Background(), time.Millisecond); err != nil {
		t.Fatalf("SleepCtx = %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	if err := SleepCtx(ctx, time.Hour); !errors.Is(err, context.Canceled) || time.Since(start) > 10*time.Second {
		t.Fatalf("cancelled: %v after %s", err, time.Since(start))
	}
	if err := SleepCtx(ctx, 0); !errors.Is(err, context.Canceled) {
		t.Fatalf("zero wait, cancelled ctx: %v", err)
	}
	if err := SleepCtx(context.Background(), -time.Second); err != nil {
		t.Fatalf("negative wait: %v", err)
	}
}

func TestRetry(t *testing.T) {
	ctx := context.Background()
	fatal := errors.New("syntax error")
	for _, c := range []struct {
		name      string
		b         Backoff
		errs      []error // fn's results, in order (nil after the end)
		wantCalls int
		wantErr   error
		wantWaits []time.Duration
	}{
		{"success first", Backoff{Attempts: 3, Wait: time.Millisecond}, nil, 1, nil, nil},
		{"transient then success", Backoff{Attempts: 3, Wait: time.Millisecond, MaxWait: 8 * time.Millisecond}, []error{io.EOF, io.EOF}, 3, nil, []time.Duration{time.Millisecond, 2 * time.Millisecond}},
		{"not transient", Backoff{Attempts: 5, Wait: time.Millisecond}, []error{fatal}, 1, fatal, nil},
		{"attempts exhausted", Backoff{Attempts: 4, Wait: time.Millisecond, MaxWait: 2 * time.Millisecond}, []error{io.EOF, io.EOF, io.EOF, io.ErrUnexpectedEOF, io.EOF}, 4, io.ErrUnexpectedEOF,
			[]time.Duration{time.Millisecond, 2 * time.Millisecond, 2 * time.Millisecond}},
		{"fixed wait", Backoff{Attempts: 3, Wait: time.Millisecond}, []error{io.EOF, io.EOF, io.EOF}, 3, io.EOF, []time.Duration{time.Millisecond, time.Millisecond}},
	} {
		t.Run(c.name, func(t *testing.T) {
			calls := 0
			var waits []time.Duration
			err := Retry(ctx, c.b, func() error {
				calls++
				if calls <= len(c.errs) {
					return c.errs[calls-1]
				}
				return nil
			}, func(err error, attempt int, wait time.Duration) {
				if attempt != calls || err != c.errs[calls-1] {
					t.Errorf("onRetry(%v, %d) after call %d", err, attempt, calls)
				}
				waits = append(waits, wait)
			})
			if err != c.wantErr || calls != c.wantCalls || !reflect.DeepEqual(waits, c.wantWaits) {
				t.Fatalf("Retry = %v after %d calls, waits %v; want %v, %d, %v", err, calls, waits, c.wantErr, c.wantCalls, c.wantWaits)
			}
		})
	}
	t.Run("stops when ctx is done", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		calls := 0
		err := Retry(cctx, Backoff{Attempts: 10, Wait: time.Hour}, func() error { calls++; return io.EOF },
			func(error, int, time.Duration) { cancel() })
		if err != io.EOF || calls != 1 {
			t.Fatalf("Retry = %v after %d calls", err, calls)
		}
	})
}
