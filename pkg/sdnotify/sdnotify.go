// Package sdnotify speaks systemd's service notification protocol: one
// datagram per state change ("READY=1", "WATCHDOG=1", "STOPPING=1") sent
// to the AF_UNIX socket named by $NOTIFY_SOCKET (a leading '@' names an
// abstract socket). Without $NOTIFY_SOCKET every call is a no-op, so a
// process not started by systemd (Type=notify) is unaffected.
package sdnotify

import (
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

// Notifier sends state lines to the service manager.
type Notifier struct {
	socket string
	// watchdog is the interval the manager expects pings in (0: none).
	watchdog time.Duration
}

// FromEnv returns a Notifier for the environment systemd sets:
// NOTIFY_SOCKET, and WATCHDOG_USEC (with WATCHDOG_PID, when set, naming
// this process). getenv defaults to os.Getenv.
func FromEnv(getenv func(string) string) *Notifier {
	if getenv == nil {
		getenv = os.Getenv
	}
	n := &Notifier{socket: getenv("NOTIFY_SOCKET")}
	if us, err := strconv.ParseInt(getenv("WATCHDOG_USEC"), 10, 64); err == nil && us > 0 {
		pid := getenv("WATCHDOG_PID")
		if pid == "" || pid == strconv.Itoa(os.Getpid()) {
			n.watchdog = time.Duration(us) * time.Microsecond
		}
	}
	return n
}

// Enabled reports whether a service manager listens.
func (n *Notifier) Enabled() bool { return n != nil && n.socket != "" }

// WatchdogInterval is how often WATCHDOG=1 is due (0: no watchdog). Pinging
// at half of it, as systemd advises, leaves room for a slow moment.
func (n *Notifier) WatchdogInterval() time.Duration {
	if n == nil {
		return 0
	}
	return n.watchdog
}

// Notify sends the state lines (e.g. "READY=1", "STATUS=3 jobs running")
// as one datagram. Without a socket it does nothing.
func (n *Notifier) Notify(lines ...string) error {
	if !n.Enabled() {
		return nil
	}
	// Go maps a leading '@' to the abstract namespace itself.
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: n.socket, Net: "unixgram"})
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = c.Write([]byte(strings.Join(lines, "\n") + "\n"))
	return err
}

// Ready is "READY=1" with a STATUS line.
func (n *Notifier) Ready(status string) error { return n.Notify("READY=1", "STATUS="+status) }

// Watchdog is "WATCHDOG=1".
func (n *Notifier) Watchdog() error { return n.Notify("WATCHDOG=1") }

// Stopping is "STOPPING=1" with a STATUS line.
func (n *Notifier) Stopping(status string) error { return n.Notify("STOPPING=1", "STATUS="+status) }

// Status is a STATUS line alone.
func (n *Notifier) Status(status string) error { return n.Notify("STATUS=" + status) }
