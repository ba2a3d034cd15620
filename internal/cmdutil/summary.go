package cmdutil

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/deimos-cli/deimos/pkg/errs"
)

// SummaryFlags are --summary and --summary-file: a machine-readable
// summary of a run for cron wrappers and CI (docs/summary.md).
type SummaryFlags struct {
	Format string
	File   string
}

// AddSummaryFlags adds --summary json and --summary-file PATH to c.
func AddSummaryFlags(c *cobra.Command, s *SummaryFlags) {
	c.Flags().StringVar(&s.Format, "summary", "", "print a run summary as one JSON object on stderr: json")
	c.Flags().StringVar(&s.File, "summary-file", "", "write the JSON run summary to this file instead of stderr (- for stdout); implies --summary json")
	_ = c.RegisterFlagCompletionFunc("summary", cobra.FixedCompletions([]string{"json"}, cobra.ShellCompDirectiveNoFileComp))
}

// Enabled reports whether a summary was asked for.
func (s SummaryFlags) Enabled() bool { return s.Format != "" || s.File != "" }

// Validate checks the flag values (exit 2).
func (s SummaryFlags) Validate() error {
	if s.Format != "" && s.Format != "json" {
		return errs.Usagef("--summary %q: the only format is json", s.Format)
	}
	return nil
}

// Summary is one run's summary. Commands fill Counts, Locked, Skipped and
// Details while they run; Finish adds the outcome and writes it.
type Summary struct {
	Command         string           `json:"command"`
	OK              bool             `json:"ok"`
	ExitCode        int              `json:"exit_code"`
	StartedAt       time.Time        `json:"started_at"`
	DurationSeconds float64          `json:"duration_seconds"`
	Counts          map[string]int64 `json:"counts"`
	Errors          []string         `json:"errors"`
	// Locked lists what was left waiting behind another process's lock.
	Locked []any `json:"locked"`
	// Skipped lists what was skipped and why (bad input lines, rows).
	Skipped []any `json:"skipped"`
	Details any   `json:"details,omitempty"`

	mu sync.Mutex
}

// NewSummary starts the summary of command.
func NewSummary(command string) *Summary {
	return &Summary{Command: command, StartedAt: time.Now().UTC(), Counts: map[string]int64{}}
}

// Count adds n to a count.
func (s *Summary) Count(name string, n int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.Counts[name] += n
}

// Set sets a count.
func (s *Summary) Set(name string, n int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.Counts[name] = n
}

// Skip records a skipped item.
func (s *Summary) Skip(item any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.Skipped = append(s.Skipped, item)
}

// Lock records an item left waiting behind a lock.
func (s *Summary) Lock(item any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.Locked = append(s.Locked, item)
}

// Error records an error that did not end the run by itself.
func (s *Summary) Error(msg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.Errors = append(s.Errors, msg)
}

// FinishSummary completes the summary with the run's error (its exit code and
// message, secrets masked) and writes it when asked; it returns runErr, or
// the write's error when the run succeeded.
func (f *Factory) FinishSummary(flags SummaryFlags, s *Summary, runErr error) error {
	if !flags.Enabled() {
		return runErr
	}
	s.mu.Lock()
	s.DurationSeconds = time.Since(s.StartedAt).Seconds()
	s.ExitCode = errs.ExitCode(runErr)
	s.OK = s.ExitCode == errs.CodeOK
	if runErr != nil {
		s.Errors = append(s.Errors, strings.TrimSpace(runErr.Error()))
	}
	for i, e := range s.Errors {
		s.Errors[i] = f.Redact(e)
	}
	if s.Errors == nil {
		s.Errors = []string{}
	}
	if s.Locked == nil {
		s.Locked = []any{}
	}
	if s.Skipped == nil {
		s.Skipped = []any{}
	}
	b, err := json.Marshal(s)
	s.mu.Unlock()
	if err != nil {
		return firstErr(runErr, fmt.Errorf("summary: %w", err))
	}
	b = append(b, '\n')
	switch flags.File {
	case "":
		_, err = f.IO.ErrOut.Write(b)
	case "-":
		_, err = f.IO.Out.Write(b)
	default:
		err = os.WriteFile(flags.File, b, 0o644)
	}
	if err != nil {
		return firstErr(runErr, errs.Failedf("--summary-file: %w", err))
	}
	return runErr
}

func firstErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}
