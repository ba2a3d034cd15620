package start_test

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/deimos-cli/deimos/internal/testenv"
)

// notifySocket listens where a fake systemd would, and hands out each
// datagram deimos sends.
func notifySocket(t *testing.T) (string, <-chan string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify")
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	ch := make(chan string, 1000)
	go func() {
		b := make([]byte, 4096)
		for {
			n, err := c.Read(b)
			if err != nil {
				close(ch)
				return
			}
			ch <- string(b[:n])
		}
	}()
	return path, ch
}

// next returns the next message that satisfies match, failing after 30s.
func next(t *testing.T, ch <-chan string, what string, match func(string) bool) string {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case m, ok := <-ch:
			if !ok {
				t.Fatalf("notify socket closed waiting for %s", what)
			}
			if match(m) {
				return m
			}
		case <-timeout:
			t.Fatalf("no %s from deimos within 30s", what)
		}
	}
}

// Under systemd (Type=notify, a fake NOTIFY_SOCKET here) deimos start sends
// READY=1 once every job has started, WATCHDOG=1 while healthy, no
// WATCHDOG=1 while a job is wedged (a STATUS line says which), and
// STOPPING=1 on SIGTERM. On PostgreSQL and MySQL/MariaDB.
func TestStartSystemdNotify(t *testing.T) { servers(t, testStartSystemdNotify) }

func testStartSystemdNotify(t *testing.T, dialect string) {
	e := newEnvOn(t, dialect, pipelineSQLOn(dialect), pipelineConfig)
	sock, msgs := notifySocket(t)
	p := e.start([]string{"NOTIFY_SOCKET=" + sock, "WATCHDOG_USEC=400000"},
		"start", "--only", "outbox,consumers", "--http-addr", "127.0.0.1:0", "--wedged-after", "1s").serving()
	ready := next(t, msgs, "READY=1", func(m string) bool { return strings.Contains(m, "READY=1") })
	if !strings.Contains(ready, "STATUS=3 job(s) running") {
		t.Errorf("READY message %q", ready)
	}
	if c, body := p.get("/readyz"); c != 200 {
		t.Errorf("READY=1 sent while /readyz says %d %s", c, body)
	}
	next(t, msgs, "WATCHDOG=1", func(m string) bool { return m == "WATCHDOG=1\n" })

	// wedge the relay: its listing of kafka_messages waits on the test.
	// PostgreSQL: the test's table lock. MySQL, whose plain reads take no
	// row locks: an ALTER TABLE waits for the metadata lock the test's open
	// transaction holds on kafka_messages, and every later statement on
	// the table queues behind the ALTER.
	var lock *lockHolder
	var altered chan error
	if e.dialect == "mysql" {
		lock = e.lock("SELECT COUNT(*) FROM kafka_messages")
		altered = make(chan error, 1)
		go func() {
			_, err := e.d.Exec("ALTER TABLE kafka_messages COMMENT = 'wedged by a test'")
			altered <- err
		}()
	} else {
		lock = e.lock("LOCK TABLE kafka_messages IN ACCESS EXCLUSIVE MODE")
	}
	next(t, msgs, "a STATUS naming the wedged job", func(m string) bool { return strings.Contains(m, "job outbox is wedged") })
	for i := 0; i < 3; i++ {
		if m := next(t, msgs, "another message while wedged", func(string) bool { return true }); strings.Contains(m, "WATCHDOG=1") {
			t.Fatalf("WATCHDOG=1 sent while a job is wedged")
		}
	}
	lock.release()
	if altered != nil {
		if err := <-altered; err != nil {
			t.Fatalf("ALTER TABLE: %v", err)
		}
	}
	next(t, msgs, "WATCHDOG=1 after the job moves again", func(m string) bool { return m == "WATCHDOG=1\n" })

	_ = p.cmd.Process.Signal(sigterm)
	next(t, msgs, "STOPPING=1", func(m string) bool { return strings.Contains(m, "STOPPING=1") })
	if code := p.wait(time.Minute); code != 0 {
		t.Fatalf("exit %d\n%s", code, p.stderr)
	}
}

// scripts/deimos.service passes systemd-analyze verify, is Type=notify with
// a watchdog, hardened and restarted on failure, and its ExecStart
// arguments are ones deimos start accepts.
func TestSystemdUnit(t *testing.T) {
	unit, err := os.ReadFile(filepath.Join("..", "..", "scripts", "deimos.service"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(unit)
	for _, want := range []string{"Type=notify", "WatchdogSec=", "Restart=on-failure", "DynamicUser=yes", "NoNewPrivileges=yes",
		"ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes", "CapabilityBoundingSet=\n", "KillSignal=SIGTERM"} {
		if !strings.Contains(text, want) {
			t.Errorf("unit lacks %q", want)
		}
	}
	bin := testenv.Binary(t)
	verify := filepath.Join(t.TempDir(), "deimos.service")
	if err := os.WriteFile(verify, []byte(strings.ReplaceAll(text, "/usr/local/bin/deimos", bin)), 0o644); err != nil {
		t.Fatal(err)
	}
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		testenv.Missing(t, "systemd-analyze (systemd)")
	}
	out, err := exec.Command(analyze, "verify", verify).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
	var exe []string
	for _, l := range strings.Split(text, "\n") {
		if a, ok := strings.CutPrefix(l, "ExecStart="); ok {
			exe = strings.Fields(a)
		}
	}
	if len(exe) < 2 || exe[1] != "start" {
		t.Fatalf("ExecStart %v does not run deimos start", exe)
	}
	e := newEnv(t, pipelineSQL, pipelineConfig)
	args := append([]string{}, exe[1:]...)
	for i, a := range args {
		if a == "/etc/deimos/deimos.yaml" {
			args[i] = e.cfg
		}
	}
	testenv.Run(t, e.dir, []string{"DEIMOS_CONFIG="}, "", append(args, "--list")...).OK(t, "the unit's ExecStart arguments")
}
