package testenv

import (
	"testing"
	"time"
)

// pollEvery is how often WaitFor and Eventually check their condition.
const pollEvery = 10 * time.Millisecond

// Eventually reports whether cond held within timeout, checking it every
// 10 ms. Tests wait on a condition this way instead of sleeping for a
// guessed duration.
func Eventually(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(pollEvery)
	}
	return true
}

// WaitFor waits until cond holds and fails the test, naming what it waited
// for, when timeout passes first.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	if !Eventually(timeout, cond) {
		t.Fatalf("timed out after %s waiting for %s", timeout, what)
	}
}
