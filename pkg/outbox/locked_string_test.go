package outbox

import "testing"

// A lock left behind hours ago reads as days and hours, not 28h0m0s.
func TestLockedTopicStringForPeople(t *testing.T) {
	l := LockedTopic{Topic: "orders", Pending: 3, LockedBy: "abc", LockAgeSeconds: 100000}
	if got, want := l.String(), "orders (3 pending, locked by abc 1d4h ago)"; got != want {
		t.Fatalf("%q, want %q", got, want)
	}
	l = LockedTopic{Topic: "orders", Pending: 3, LockAgeSeconds: 9.4}
	if got, want := l.String(), "orders (3 pending, errored 9s ago, retried after 1m)"; got != want {
		t.Fatalf("%q, want %q", got, want)
	}
}
