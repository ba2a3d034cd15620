package supervise

import (
	"sync"
	"time"
)

// Job states, as /status shows them.
const (
	StatePending  = "pending"  // not started yet
	StateStarting = "starting" // setting up (connecting, checking tables)
	StateRunning  = "running"  // set up and working
	StateIdle     = "idle"     // set up and waiting for a reason (IdleReason)
	StateBackoff  = "backoff"  // failed; restarts at NextRestartAt
	StateFailed   = "failed"   // failed and stays down
	StateStopped  = "stopped"  // stopped on request
	StateDone     = "done"     // finished its work (--once)
)

// Handle is one job's live state. It is the job's progress.Reporter.
type Handle struct {
	name, kind string
	now        func() time.Time

	mu           sync.Mutex
	state        string
	idle         string
	started      bool      // set up in this run
	active       time.Time // last progress, or last change between busy and idle
	lastProgress time.Time
	startedAt    time.Time
	restarts     int
	lastErr      string
	lastErrAt    time.Time
	nextRestart  time.Time
	lag          *float64
	lagUnit      string
}

// Name is the job's name.
func (h *Handle) Name() string { return h.name }

// Started marks the job as set up: it counts as started for readiness.
func (h *Handle) Started() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.markStarted()
}

func (h *Handle) markStarted() {
	if !h.started {
		h.started = true
		h.active = h.now()
	}
	if h.state == StateStarting {
		h.state = StateRunning
	}
}

// Progress implements progress.Reporter.
func (h *Handle) Progress() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.markStarted()
	now := h.now()
	h.active, h.lastProgress = now, now
}

// Idle implements progress.Reporter.
func (h *Handle) Idle(reason string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.markStarted()
	if reason != h.idle {
		h.active = h.now()
	}
	h.idle = reason
}

// SetLag records how far behind the job is (unit: messages, seconds).
func (h *Handle) SetLag(v float64, unit string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.lag, h.lagUnit = &v, unit
}

// Restarts is how often the job was restarted.
func (h *Handle) Restarts() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.restarts
}

func (h *Handle) isStarted() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.started
}

// downSince reports whether this run is a restart that never got set up
// (the job has been down since its last failure), and that failure.
func (h *Handle) downSince() (bool, string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.restarts > 0 && !h.started && h.lastErr != "", h.lastErr
}

func (h *Handle) begin() {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := h.now()
	h.state, h.idle, h.started = StateStarting, "", false
	h.active, h.startedAt = now, now
	h.nextRestart = time.Time{}
}

func (h *Handle) end(state string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.state, h.idle = state, ""
}

func (h *Handle) fail(msg, state string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.state, h.idle, h.started = state, "", false
	h.lastErr, h.lastErrAt = msg, h.now()
}

func (h *Handle) setState(state string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.state = state
}

func (h *Handle) setNextRestart(t time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.nextRestart = t
}

func (h *Handle) restarted() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.restarts++
}

// JobStatus is one job in /status.
type JobStatus struct {
	Name  string `json:"name"`
	Kind  string `json:"kind"`
	State string `json:"state"`
	// IdleReason says what an idle job waits for.
	IdleReason string `json:"idle_reason,omitempty"`
	// Wedged: busy (not idle) with no progress for longer than allowed.
	Wedged         bool       `json:"wedged"`
	Restarts       int        `json:"restarts"`
	LastError      string     `json:"last_error,omitempty"`
	LastErrorAt    *time.Time `json:"last_error_at,omitempty"`
	LastProgressAt *time.Time `json:"last_progress_at,omitempty"`
	// LastActiveAt is the last progress or change between busy and idle.
	LastActiveAt  time.Time  `json:"last_active_at"`
	StartedAt     *time.Time `json:"started_at,omitempty"`
	NextRestartAt *time.Time `json:"next_restart_at,omitempty"`
	Lag           *float64   `json:"lag,omitempty"`
	LagUnit       string     `json:"lag_unit,omitempty"`
}

func tp(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

func (h *Handle) status(wedgedAfter time.Duration) JobStatus {
	h.mu.Lock()
	defer h.mu.Unlock()
	st := JobStatus{Name: h.name, Kind: h.kind, State: h.state, IdleReason: h.idle, Restarts: h.restarts,
		LastError: h.lastErr, LastErrorAt: tp(h.lastErrAt), LastProgressAt: tp(h.lastProgress),
		LastActiveAt: h.active.UTC(), StartedAt: tp(h.startedAt), NextRestartAt: tp(h.nextRestart), LagUnit: h.lagUnit}
	if h.lag != nil {
		v := *h.lag
		st.Lag = &v
	}
	if st.State == StateRunning && h.idle != "" {
		st.State = StateIdle
	}
	busy := (h.state == StateStarting || h.state == StateRunning) && h.idle == ""
	st.Wedged = busy && h.now().Sub(h.active) > wedgedAfter
	return st
}
