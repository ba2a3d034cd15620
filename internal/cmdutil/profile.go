package cmdutil

import (
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"runtime/pprof"
	"sync"
	"time"

	"github.com/spf13/pflag"

	"github.com/deimos-cli/deimos/pkg/errs"
)

// AddProfileFlag adds the hidden --cpuprofile FILE flag (for performance
// work: go tool pprof FILE).
func AddProfileFlag(fl *pflag.FlagSet, p *string) {
	fl.StringVar(p, "cpuprofile", "", "write a Go CPU profile of the run to FILE")
	_ = fl.MarkHidden("cpuprofile")
}

// TuneGC trades a little memory for less GC work on bulk streams (their heap
// is small and bounded by in-flight limits): GOGC 400, so the heap may grow
// to five times what is live between collections, but under a soft memory
// limit (softMemoryLimit) that keeps peak RSS near what the stream holds.
// GOGC and GOMEMLIMIT, when set, win.
func TuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		gcTuner.Do(func() {
			debug.SetMemoryLimit(softMemoryLimit(0))
			go followLiveHeap()
		})
	}
}

var gcTuner sync.Once

// LimitProcs caps GOMAXPROCS at n (at least 1) for a command whose work is
// mostly waiting on the network: with more processors than it can keep
// busy, the Go scheduler spends its CPU waking idle threads that spin,
// find nothing to run and sleep again, on each network wake-up. The
// GOMAXPROCS environment variable, when set, wins; a lower current value
// is kept.
func LimitProcs(n int) {
	if os.Getenv("GOMAXPROCS") != "" || n >= runtime.GOMAXPROCS(0) {
		return
	}
	runtime.GOMAXPROCS(max(n, 1))
}

// minMemoryLimit is the floor of the soft limit: produce and consume keep
// about 20 MiB live, so GOGC 400 alone let their heap reach 80-100 MiB;
// under 48 MiB they spent more CPU on GC (scripts/bench/produce-consume.sh).
const minMemoryLimit = 48 << 20

// softMemoryLimit is the Go memory limit for a live heap of live bytes: twice
// the live heap and 16 MiB more, at least minMemoryLimit. A stream of large
// messages holds more: the limit grows with it instead of making the
// collector run back to back.
func softMemoryLimit(live uint64) int64 {
	return max(minMemoryLimit, int64(2*live)+16<<20)
}

// followLiveHeap moves the soft limit with the live heap measured by the
// last collection, twice a second, for the life of the process.
func followLiveHeap() {
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	for range time.Tick(500 * time.Millisecond) {
		metrics.Read(sample)
		if sample[0].Value.Kind() == metrics.KindUint64 {
			debug.SetMemoryLimit(softMemoryLimit(sample[0].Value.Uint64()))
		}
	}
}

// StartProfile starts CPU profiling when path is set; call the returned stop.
func StartProfile(path string) (func(), error) {
	if path == "" {
		return func() {}, nil
	}
	fh, err := os.Create(path)
	if err != nil {
		return nil, errs.Usagef("--cpuprofile: %w", err)
	}
	if err := pprof.StartCPUProfile(fh); err != nil {
		fh.Close()
		return nil, errs.Usagef("--cpuprofile: %w", err)
	}
	return func() { pprof.StopCPUProfile(); fh.Close() }, nil
}
