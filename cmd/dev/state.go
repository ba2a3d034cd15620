package dev

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/deimos-cli/deimos/pkg/config"
	"github.com/deimos-cli/deimos/pkg/db"
	"github.com/deimos-cli/deimos/pkg/errs"
)

// A running `deimos dev` writes its export line to a state file, so that
// `deimos dev --print-env` in another shell (or a script that started dev
// in the background) can print it. The file names the dev's pid and goes
// away when dev stops.

// defaultStateFile is $XDG_CACHE_HOME/deimos/dev.env (~/.cache/deimos/dev.env).
func defaultStateFile() string {
	dir, err := os.UserCacheDir()
	if err != nil {
		dir = os.TempDir()
	}
	return filepath.Join(dir, "deimos", "dev.env")
}

// writeState writes the export line atomically; the returned func removes
// the file if it is still this process's.
func writeState(path, export string) (func(), error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, errs.Usagef("--state-file %s: %w", path, err)
	}
	body := fmt.Sprintf("# deimos dev pid %d\n%s\n", os.Getpid(), export)
	tmp := path + ".tmp" + strconv.Itoa(os.Getpid())
	if err := os.WriteFile(tmp, []byte(body), 0o600); err != nil {
		return nil, errs.Usagef("--state-file %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return nil, errs.Usagef("--state-file %s: %w", path, err)
	}
	return func() {
		if pid, _, err := readState(path); err == nil && pid == os.Getpid() {
			_ = os.Remove(path)
		}
	}, nil
}

// readState returns the pid and export line of the state file.
func readState(path string) (int, string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, "", err
	}
	var pid int
	var export string
	for _, l := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(l, "# deimos dev pid "); ok {
			pid, _ = strconv.Atoi(strings.TrimSpace(rest))
		}
		if strings.HasPrefix(l, "export ") {
			export = l
		}
	}
	if pid <= 0 || export == "" {
		return 0, "", fmt.Errorf("%s is not a deimos dev state file", path)
	}
	return pid, export, nil
}

// printEnv waits up to wait for a running dev (its state file, its live
// pid, its broker accepting connections) and returns its export line.
func printEnv(ctx context.Context, path string, wait time.Duration) (string, error) {
	deadline := time.Now().Add(wait)
	why := "no deimos dev is running (no " + path + ")"
	for {
		pid, export, err := readState(path)
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			why = err.Error()
		case syscall.Kill(pid, 0) != nil && !errors.Is(syscall.Kill(pid, 0), syscall.EPERM):
			why = fmt.Sprintf("the deimos dev that wrote %s (pid %d) is gone", path, pid)
		case !brokerUp(export):
			why = fmt.Sprintf("deimos dev (pid %d) does not answer yet", pid)
		default:
			return export, nil
		}
		if time.Now().After(deadline) {
			return "", errs.Unavailablef("%s; start one with 'deimos dev' (waited %s)", why, wait)
		}
		if err := db.SleepCtx(ctx, 100*time.Millisecond); err != nil {
			return "", err
		}
	}
}

// brokerUp reports whether the broker named in the export line accepts a
// TCP connection.
func brokerUp(export string) bool {
	for _, f := range strings.Fields(export) {
		if addr, ok := strings.CutPrefix(f, config.Env("brokers")+"="); ok {
			c, err := net.DialTimeout("tcp", strings.Split(addr, ",")[0], time.Second)
			if err != nil {
				return false
			}
			_ = c.Close()
			return true
		}
	}
	return false
}
