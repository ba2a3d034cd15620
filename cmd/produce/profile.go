package produce

import (
	"os"
	"runtime/debug"
	"runtime/pprof"

	"github.com/spf13/pflag"

	"github.com/deimos-cli/deimos/pkg/errs"
)

// addProfileFlag adds the hidden --cpuprofile FILE flag (for performance
// work: go tool pprof FILE).
func addProfileFlag(fl *pflag.FlagSet, p *string) {
	fl.StringVar(p, "cpuprofile", "", "write a CPU profile to this file")
	_ = fl.MarkHidden("cpuprofile")
}

// tuneGC trades a little memory for less GC work on bulk streams (the heap
// is small and bounded by the in-flight limits); GOGC, when set, wins.
func tuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
}

// startProfile starts CPU profiling when path is set; call the returned stop.
func startProfile(path string) (func(), error) {
	tuneGC()
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
