// Package supervise runs several long-running jobs (consumers, pollers,
// the outbox relay) in one process: it restarts a job that fails with
// capped exponential back-off, tells wedged jobs (busy, no progress) from
// idle ones, and stops every job on one context. It prints nothing; it
// logs through the slog.Logger it is given.
package supervise

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"

	"github.com/deimos-cli/deimos/pkg/db"
)

// Job is one unit of work the supervisor runs.
type Job struct {
	Name string
	Kind string // consumer, poller or outbox
	// Run runs the job until ctx ends (finishing its in-flight work), or
	// until its work is done (--once). It reports liveness through h (a
	// progress.Reporter) and calls h.Started once it is set up.
	Run func(ctx context.Context, h *Handle) error
}

// Policy says what happens when a job fails.
type Policy int

const (
	// Restart restarts a failed job after a capped exponential back-off;
	// Run returns only when its context ends. A job that returns without
	// error while the context is live counts as failed: daemons do not end.
	Restart Policy = iota
	// StopAll stops every job at the first failure; Run returns it.
	StopAll
	// Continue leaves a failed job down and lets the others finish; Run
	// returns the first failure once every job has ended.
	Continue
)

// Options configure a Supervisor; zero values take the defaults.
type Options struct {
	Policy Policy
	// Backoff is the first restart delay (default 1s); each failure doubles
	// it up to MaxBackoff (default 1m). A run that lasted MaxBackoff or more
	// starts the next failure's back-off from Backoff again.
	Backoff, MaxBackoff time.Duration
	// WedgedAfter is how long a busy job may go without progress before it
	// is wedged (default 5m).
	WedgedAfter time.Duration
	Logger      *slog.Logger
	// Redact masks secrets in error texts kept for Status.
	Redact func(string) string
	Now    func() time.Time
}

func (o *Options) defaults() {
	if o.Backoff <= 0 {
		o.Backoff = time.Second
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = time.Minute
	}
	if o.MaxBackoff < o.Backoff {
		o.MaxBackoff = o.Backoff
	}
	if o.WedgedAfter <= 0 {
		o.WedgedAfter = 5 * time.Minute
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Redact == nil {
		o.Redact = func(s string) string { return s }
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// Supervisor runs jobs.
type Supervisor struct {
	o    Options
	jobs []Job
	hs   []*Handle
}

// New returns a supervisor for jobs (names must be unique).
func New(jobs []Job, o Options) (*Supervisor, error) {
	o.defaults()
	s := &Supervisor{o: o, jobs: jobs}
	seen := map[string]bool{}
	for _, j := range jobs {
		if j.Name == "" || seen[j.Name] {
			return nil, fmt.Errorf("supervise: job name %q is empty or used twice", j.Name)
		}
		seen[j.Name] = true
		s.hs = append(s.hs, &Handle{name: j.Name, kind: j.Kind, now: o.Now, state: StatePending})
	}
	return s, nil
}

// Run runs every job and returns as its Policy says. When ctx ends every
// job is asked to stop and Run waits for all of them; it then returns an
// error when a job was down (failed, waiting to restart) or failed while
// stopping, so a process never exits 0 with a job it was asked to run dead.
func (s *Supervisor) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errc := make(chan error, len(s.jobs))
	for i, j := range s.jobs {
		wg.Add(1)
		go func(j Job, h *Handle) {
			defer wg.Done()
			if err := s.runJob(ctx, cancel, j, h); err != nil {
				errc <- err
			}
		}(j, s.hs[i])
	}
	wg.Wait()
	close(errc)
	var first error
	for err := range errc {
		if first == nil {
			first = err
		}
	}
	return first
}

// runJob runs one job under the policy; its error is the job's failure.
func (s *Supervisor) runJob(ctx context.Context, cancelAll context.CancelFunc, j Job, h *Handle) error {
	log := s.o.Logger.With("job", j.Name)
	backoff := s.o.Backoff
	for {
		h.begin()
		t0 := s.o.Now()
		err := safeRun(ctx, j, h)
		if ctx.Err() != nil {
			// Stopping: the job finished its in-flight work and returned.
			if down, last := h.downSince(); down {
				// Restarted after a failure and never set up again: the
				// job was not running when the stop came.
				h.setState(StateFailed)
				return &JobError{Job: j.Name, When: "was down when the process stopped", Err: errors.New(last)}
			}
			if err != nil && !errors.Is(err, context.Canceled) && h.isStarted() {
				h.fail(s.o.Redact(err.Error()), StateFailed)
				log.Error("job failed while stopping", "error", err)
				return &JobError{Job: j.Name, When: "failed while stopping", Err: err}
			}
			// (A job stopped while still setting up has nothing in flight:
			// its error is the interrupted setup's.)
			h.end(StateStopped)
			return nil
		}
		if err == nil {
			if s.o.Policy != Restart {
				h.end(StateDone)
				return nil
			}
			err = errors.New("ended on its own (a job that runs until stopped must not end)")
		}
		switch s.o.Policy {
		case StopAll:
			h.fail(s.o.Redact(err.Error()), StateFailed)
			cancelAll()
			return &JobError{Job: j.Name, Err: err}
		case Continue:
			h.fail(s.o.Redact(err.Error()), StateFailed)
			return &JobError{Job: j.Name, Err: err}
		}
		if s.o.Now().Sub(t0) >= s.o.MaxBackoff {
			backoff = s.o.Backoff
		}
		h.fail(s.o.Redact(err.Error()), StateBackoff)
		h.setNextRestart(s.o.Now().Add(backoff))
		log.Error("job failed; restarting after back-off", "error", err, "restart_in", backoff.String(), "restarts", h.Restarts())
		if db.SleepCtx(ctx, backoff) != nil {
			h.setState(StateFailed)
			return &JobError{Job: j.Name, When: "was down when the process stopped", Err: err}
		}
		backoff = min(backoff*2, s.o.MaxBackoff)
		h.restarted()
		log.Info("restarting job", "restarts", h.Restarts())
	}
}

// JobError is a job's failure as Run returns it; its exit code is the
// wrapped error's.
type JobError struct {
	Job  string
	When string // "" (failed), "failed while stopping", "was down when the process stopped"
	Err  error
}

func (e *JobError) Error() string {
	if e.When == "" {
		return "job " + e.Job + ": " + e.Err.Error()
	}
	return "job " + e.Job + " " + e.When + ": " + e.Err.Error()
}

func (e *JobError) Unwrap() error { return e.Err }

// safeRun runs the job and turns a panic into an error, so one job's bug
// does not take the other jobs down with it.
func safeRun(ctx context.Context, j Job, h *Handle) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v\n%s", r, debug.Stack())
		}
	}()
	return j.Run(ctx, h)
}

// Status returns every job's status, in the order jobs were given.
func (s *Supervisor) Status() []JobStatus {
	out := make([]JobStatus, len(s.hs))
	for i, h := range s.hs {
		out[i] = h.status(s.o.WedgedAfter)
	}
	return out
}

// Healthy reports whether no job is wedged; problems names those that are.
func (s *Supervisor) Healthy() (ok bool, problems []string) {
	for _, st := range s.Status() {
		if st.Wedged {
			problems = append(problems, fmt.Sprintf("job %s is wedged: busy with no progress since %s", st.Name, st.LastActiveAt.Format(time.RFC3339)))
		}
	}
	return len(problems) == 0, problems
}

// Started reports whether every job is set up and running (or has
// finished its work); waiting names those that are not.
func (s *Supervisor) Started() (ok bool, waiting []string) {
	for _, st := range s.Status() {
		switch st.State {
		case StateRunning, StateIdle, StateDone:
		default:
			waiting = append(waiting, fmt.Sprintf("job %s is %s", st.Name, st.State))
		}
	}
	return len(waiting) == 0, waiting
}
