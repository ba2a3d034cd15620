package sdnotify

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

func listen(t *testing.T, name string) *net.UnixConn {
	t.Helper()
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func read(t *testing.T, c *net.UnixConn) string {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	b := make([]byte, 4096)
	n, err := c.Read(b)
	if err != nil {
		t.Fatal(err)
	}
	return string(b[:n])
}

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestNotify(t *testing.T) {
	for _, sock := range []string{filepath.Join(t.TempDir(), "notify"), "@deimos-test-" + strconv.Itoa(os.Getpid())} {
		c := listen(t, sock)
		n := FromEnv(env(map[string]string{"NOTIFY_SOCKET": sock, "WATCHDOG_USEC": "3000000"}))
		if !n.Enabled() || n.WatchdogInterval() != 3*time.Second {
			t.Fatalf("%s: enabled %v watchdog %v", sock, n.Enabled(), n.WatchdogInterval())
		}
		if err := n.Ready("2 jobs"); err != nil {
			t.Fatal(err)
		}
		if got := read(t, c); got != "READY=1\nSTATUS=2 jobs\n" {
			t.Errorf("%s: ready = %q", sock, got)
		}
		_ = n.Watchdog()
		if got := read(t, c); got != "WATCHDOG=1\n" {
			t.Errorf("watchdog = %q", got)
		}
		_ = n.Stopping("bye")
		if got := read(t, c); got != "STOPPING=1\nSTATUS=bye\n" {
			t.Errorf("stopping = %q", got)
		}
	}
}

func TestDisabled(t *testing.T) {
	n := FromEnv(env(nil))
	if n.Enabled() || n.Notify("READY=1") != nil || n.WatchdogInterval() != 0 {
		t.Fatal("without NOTIFY_SOCKET nothing is sent")
	}
	// a watchdog meant for another process is not ours
	n = FromEnv(env(map[string]string{"NOTIFY_SOCKET": "/x", "WATCHDOG_USEC": "100", "WATCHDOG_PID": "1"}))
	if n.WatchdogInterval() != 0 {
		t.Fatal("WATCHDOG_PID of another process honoured")
	}
}
