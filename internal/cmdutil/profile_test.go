package cmdutil

import (
	"math"
	"runtime"
	"runtime/debug"
	"testing"
)

// The soft limit has a floor and follows a live heap that outgrows it, so a
// stream of large messages is not collected back to back.
func TestSoftMemoryLimit(t *testing.T) {
	for _, tc := range []struct {
		live uint64
		want int64
	}{
		{0, 48 << 20},
		{10 << 20, 48 << 20},
		{16 << 20, 48 << 20},
		{100 << 20, 216 << 20},
		{1 << 30, 2<<30 + 16<<20},
	} {
		if got := softMemoryLimit(tc.live); got != tc.want {
			t.Errorf("softMemoryLimit(%d MiB) = %d MiB, want %d MiB", tc.live>>20, got>>20, tc.want>>20)
		}
	}
}

// TuneGC sets the limit unless GOMEMLIMIT is set (the user's wins).
func TestTuneGCSetsAMemoryLimit(t *testing.T) {
	t.Setenv("GOMEMLIMIT", "")
	t.Setenv("GOGC", "")
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(math.MaxInt64))
	TuneGC()
	if got := debug.SetMemoryLimit(-1); got == math.MaxInt64 || got < minMemoryLimit {
		t.Fatalf("memory limit after TuneGC = %d, want a soft limit of at least %d", got, minMemoryLimit)
	}
	if got := debug.SetGCPercent(-1); got != 400 {
		t.Fatalf("GOGC after TuneGC = %d, want 400", got)
	}
}

// LimitProcs lowers GOMAXPROCS to n (at least 1), never raises it, and
// leaves it alone when the GOMAXPROCS environment variable is set.
func TestLimitProcs(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	runtime.GOMAXPROCS(4)
	t.Setenv("GOMAXPROCS", "")
	LimitProcs(2)
	if got := runtime.GOMAXPROCS(0); got != 2 {
		t.Fatalf("LimitProcs(2) from 4: %d", got)
	}
	LimitProcs(3)
	if got := runtime.GOMAXPROCS(0); got != 2 {
		t.Fatalf("LimitProcs(3) from 2: %d, want 2 (never raised)", got)
	}
	LimitProcs(0)
	if got := runtime.GOMAXPROCS(0); got != 1 {
		t.Fatalf("LimitProcs(0): %d, want 1", got)
	}
	runtime.GOMAXPROCS(4)
	t.Setenv("GOMAXPROCS", "4")
	LimitProcs(1)
	if got := runtime.GOMAXPROCS(0); got != 4 {
		t.Fatalf("LimitProcs(1) with GOMAXPROCS=4 set: %d, want 4", got)
	}
}
