package supervise

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/deimos-cli/deimos/internal/testenv"
	"github.com/deimos-cli/deimos/pkg/errs"
)

// waitFor polls cond until it holds or 10s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testenv.WaitFor(t, 10*time.Second, what, cond)
}

// A job that fails twice is restarted twice, each time after a longer
// back-off, with its name in the log; then it runs until stopped and
// the supervisor returns nil.
func TestRestartWithBackoff(t *testing.T) {
	var logs testenv.SyncBuffer
	var attempts []time.Time
	var mu sync.Mutex
	job := Job{Name: "flaky", Kind: "poller", Run: func(ctx context.Context, h *Handle) error {
		mu.Lock()
		attempts = append(attempts, time.Now())
		n := len(attempts)
		mu.Unlock()
		if n <= 2 {
			return errs.Unavailablef("database down (attempt %d)", n)
		}
		h.Started()
		<-ctx.Done()
		return nil
	}}
	s, err := New([]Job{job}, Options{Backoff: 30 * time.Millisecond, MaxBackoff: time.Second, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	waitFor(t, "third attempt running", func() bool {
		st := s.Status()[0]
		return st.State == StateRunning && st.Restarts == 2
	})
	st := s.Status()[0]
	if !strings.Contains(st.LastError, "attempt 2") || st.LastErrorAt == nil {
		t.Errorf("status keeps the last error: %+v", st)
	}
	if ok, _ := s.Started(); !ok {
		t.Error("a running job counts as started")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("clean stop returned %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if g1, g2 := attempts[1].Sub(attempts[0]), attempts[2].Sub(attempts[1]); g1 < 30*time.Millisecond || g2 < 60*time.Millisecond {
		t.Errorf("back-off gaps %v, %v: want >= 30ms then >= 60ms (doubling)", g1, g2)
	}
	out := logs.String()
	if strings.Count(out, "job failed; restarting after back-off") != 2 || !strings.Contains(out, "job=flaky") || !strings.Contains(out, "restart_in=60ms") {
		t.Errorf("log lacks the restarts with job name and back-off:\n%s", out)
	}
	if s.Status()[0].State != StateStopped {
		t.Errorf("state after stop = %s", s.Status()[0].State)
	}
}

// The back-off is capped.
func TestBackoffCap(t *testing.T) {
	var logs testenv.SyncBuffer
	var n atomic.Int32
	job := Job{Name: "j", Run: func(ctx context.Context, h *Handle) error { n.Add(1); return errors.New("boom") }}
	s, _ := New([]Job{job}, Options{Backoff: 5 * time.Millisecond, MaxBackoff: 20 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	waitFor(t, "six attempts", func() bool { return n.Load() >= 6 })
	cancel()
	err := <-done
	var je *JobError
	if !errors.As(err, &je) || je.Job != "j" || !strings.Contains(err.Error(), "was down when the process stopped") {
		t.Fatalf("stopping while a job is down must fail, got %v", err)
	}
	if strings.Contains(logs.String(), "restart_in=40ms") || !strings.Contains(logs.String(), "restart_in=20ms") {
		t.Errorf("back-off not capped at 20ms:\n%s", logs.String())
	}
}

// A daemon job that ends on its own is a failure under Restart.
func TestRestartJobThatEnds(t *testing.T) {
	var n atomic.Int32
	job := Job{Name: "j", Run: func(ctx context.Context, h *Handle) error {
		if n.Add(1) == 1 {
			return nil
		}
		h.Started()
		<-ctx.Done()
		return nil
	}}
	s, _ := New([]Job{job}, Options{Backoff: time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	waitFor(t, "restart", func() bool { return n.Load() == 2 })
	if st := s.Status()[0]; !strings.Contains(st.LastError, "ended on its own") || st.Restarts != 1 {
		t.Errorf("status %+v", st)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// StopAll: the first failure stops the other jobs, and is returned with
// its kind (exit code) intact.
func TestStopAll(t *testing.T) {
	stopped := make(chan struct{})
	jobs := []Job{
		{Name: "bad", Run: func(ctx context.Context, h *Handle) error { return errs.Unavailablef("no broker") }},
		{Name: "good", Run: func(ctx context.Context, h *Handle) error { <-ctx.Done(); close(stopped); return nil }},
	}
	s, _ := New(jobs, Options{Policy: StopAll})
	err := s.Run(context.Background())
	var je *JobError
	if !errors.As(err, &je) || je.Job != "bad" || errs.KindOf(err) != errs.KindUnavailable {
		t.Fatalf("err = %v", err)
	}
	select {
	case <-stopped:
	default:
		t.Fatal("the other job was not stopped")
	}
	if s.Status()[0].State != StateFailed || s.Status()[1].State != StateStopped {
		t.Errorf("states %+v", s.Status())
	}
}

// Continue: the others finish their work; the failure is returned after.
func TestContinue(t *testing.T) {
	finished := false
	var s *Supervisor
	jobs := []Job{
		{Name: "bad", Run: func(ctx context.Context, h *Handle) error { return errors.New("boom") }},
		{Name: "slow", Run: func(ctx context.Context, h *Handle) error {
			// finish only once the other job has failed (and would have
			// stopped this one, were the policy StopAll)
			failed := testenv.Eventually(10*time.Second, func() bool { return s.Status()[0].State == StateFailed || ctx.Err() != nil })
			finished = failed && ctx.Err() == nil
			return nil
		}},
	}
	s, _ = New(jobs, Options{Policy: Continue})
	err := s.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "job bad: boom") || !finished {
		t.Fatalf("err = %v, slow finished = %v", err, finished)
	}
	if s.Status()[1].State != StateDone {
		t.Errorf("state %s", s.Status()[1].State)
	}
}

// A job that fails while stopping makes Run fail.
func TestFailWhileStopping(t *testing.T) {
	job := Job{Name: "j", Run: func(ctx context.Context, h *Handle) error {
		h.Started()
		<-ctx.Done()
		return errors.New("commit failed")
	}}
	s, _ := New([]Job{job}, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Run(ctx); err == nil || !strings.Contains(err.Error(), "failed while stopping: commit failed") {
		t.Fatalf("err = %v", err)
	}
}

// A panic is a failure of that job alone, restarted like any other.
func TestPanicIsAFailure(t *testing.T) {
	var n atomic.Int32
	job := Job{Name: "j", Run: func(ctx context.Context, h *Handle) error {
		if n.Add(1) == 1 {
			var m map[string]int
			m["x"] = 1
		}
		h.Started()
		<-ctx.Done()
		return nil
	}}
	s, _ := New([]Job{job}, Options{Backoff: time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	waitFor(t, "restart after panic", func() bool { return s.Status()[0].State == StateRunning })
	if st := s.Status()[0]; !strings.Contains(st.LastError, "panic: assignment to entry in nil map") {
		t.Errorf("last error %q", st.LastError)
	}
	cancel()
	<-done
}

// Wedged: busy (not idle) with no progress for longer than WedgedAfter.
// Idle jobs and jobs that report progress are not wedged.
func TestWedged(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	var h *Handle
	ready := make(chan struct{})
	job := Job{Name: "c", Run: func(ctx context.Context, hh *Handle) error { h = hh; close(ready); <-ctx.Done(); return nil }}
	s, _ := New([]Job{job}, Options{WedgedAfter: time.Minute, Now: clock})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s.Run(ctx)
	<-ready
	if ok, _ := s.Started(); ok {
		t.Fatal("a job that reported nothing has not started")
	}
	advance(2 * time.Minute)
	if ok, p := s.Healthy(); ok || !strings.Contains(strings.Join(p, ""), "job c is wedged") {
		t.Fatalf("stuck in setup for 2m: healthy=%v %v", ok, p)
	}
	h.Idle("waiting for records")
	advance(time.Hour)
	if ok, p := s.Healthy(); !ok {
		t.Fatalf("an idle job is not wedged: %v", p)
	}
	if st := s.Status()[0]; st.State != StateIdle || st.IdleReason != "waiting for records" {
		t.Errorf("status %+v", st)
	}
	h.Idle("") // busy: records arrived
	advance(59 * time.Second)
	if ok, _ := s.Healthy(); !ok {
		t.Fatal("busy for 59s is not wedged yet")
	}
	advance(2 * time.Second)
	if ok, _ := s.Healthy(); ok {
		t.Fatal("busy for 61s without progress is wedged")
	}
	if !s.Status()[0].Wedged {
		t.Error("status does not say wedged")
	}
	h.Progress()
	if ok, _ := s.Healthy(); !ok {
		t.Fatal("progress clears wedged")
	}
	if st := s.Status()[0]; st.LastProgressAt == nil || !st.LastProgressAt.Equal(clock()) {
		t.Errorf("last progress %v", st.LastProgressAt)
	}
	h.SetLag(42, "messages")
	if st := s.Status()[0]; st.Lag == nil || *st.Lag != 42 || st.LagUnit != "messages" {
		t.Errorf("lag %+v", st)
	}
}

func TestDuplicateNames(t *testing.T) {
	if _, err := New([]Job{{Name: "a"}, {Name: "a"}}, Options{}); err == nil {
		t.Fatal("duplicate job names accepted")
	}
}

// A stop that comes while a restarted job is still setting up (it has not
// run since its failure) is a stop with a dead job.
func TestStopDuringRestartSetup(t *testing.T) {
	var n atomic.Int32
	job := Job{Name: "j", Run: func(ctx context.Context, h *Handle) error {
		if n.Add(1) == 1 {
			return errors.New("table missing")
		}
		<-ctx.Done() // still connecting when the stop comes
		return errors.New("connect: context canceled")
	}}
	s, _ := New([]Job{job}, Options{Backoff: time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	waitFor(t, "restart", func() bool { return n.Load() == 2 })
	cancel()
	if err := <-done; err == nil || !strings.Contains(err.Error(), "job j was down when the process stopped: table missing") {
		t.Fatalf("err = %v", err)
	}
}

// A first run stopped while it sets up has nothing in flight: a clean stop,
// whatever error the interrupted setup returns.
func TestStopDuringFirstSetup(t *testing.T) {
	job := Job{Name: "j", Run: func(ctx context.Context, h *Handle) error {
		<-ctx.Done()
		return errors.New("dial: operation was canceled")
	}}
	s, _ := New([]Job{job}, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Run(ctx); err != nil {
		t.Fatalf("err = %v", err)
	}
}
