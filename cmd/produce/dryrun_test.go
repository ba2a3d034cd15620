package produce

import (
	"context"
	"errors"
	"testing"

	"github.com/deimos-cli/deimos/internal/testenv"
	"github.com/deimos-cli/deimos/pkg/config"
)

// The dry run's partition-count lookup closes the client it made (it used
// to leak it: its goroutines and connections lived until the process
// ended).
func TestDryRunCountsClosesItsClient(t *testing.T) {
	cfg := &config.Config{}
	cfg.Kafka.Brokers = testenv.Brokers(t, 4, "widgets")
	d := newDryRunCounts(context.Background(), cfg)
	if n := d.Count("widgets"); n != 4 {
		t.Fatalf("Count(widgets) = %d, want 4", n)
	}
	if d.cl == nil {
		t.Fatal("no client was made")
	}
	d.Close()
	// Close cancels the client's context (and stops its goroutines)
	if err := d.cl.Context().Err(); !errors.Is(err, context.Canceled) {
		t.Fatalf("client context after Close: %v, want canceled", err)
	}
	// nothing was looked up: nothing to close
	newDryRunCounts(context.Background(), cfg).Close()
}
