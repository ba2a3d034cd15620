package cmdutil

import (
	"os"
	"runtime/debug"
	"runtime/pprof"

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
// is small and bounded by in-flight limits); GOGC, when set, wins.
func TuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
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
