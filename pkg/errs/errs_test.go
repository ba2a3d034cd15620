package errs

import (
	"context"
	"errors"
	"fmt"
	"testing"
)

func TestExitCode(t *testing.T) {
	base := errors.New("boom")
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"nil", nil, CodeOK},
		{"canceled", fmt.Errorf("stop: %w", context.Canceled), CodeOK},
		{"plain", base, CodeFailed},
		{"usage", Usage(base), CodeUsage},
		{"wrapped usage", fmt.Errorf("config: %w", Usagef("bad key %q", "x")), CodeUsage},
		{"unavailable", Unavailablef("broker down: %w", base), CodeUnavailable},
		{"failed", Failed(base), CodeFailed},
		{"waiting", fmt.Errorf("outbox: %w", Waitingf("held: %w", base)), CodeWaiting},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ExitCode(tt.err); got != tt.want {
				t.Fatalf("ExitCode(%v) = %d, want %d", tt.err, got, tt.want)
			}
		})
	}
	if !errors.Is(Usage(base), base) {
		t.Fatal("Usage must wrap its error")
	}
}
