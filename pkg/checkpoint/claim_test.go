package checkpoint

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

type runnerFunc func(ctx context.Context, m Message) (Result, error)

func (f runnerFunc) Run(ctx context.Context, m Message) (Result, error) { return f(ctx, m) }

func TestRetryClaim(t *testing.T) {
	stores(t, func(t *testing.T, st *Store) {
		ctx := context.Background()
		clock := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
		st.SetNow(func() time.Time { return clock })
		if _, err := st.RecordFailure(ctx, NewFailure{Topic: "t", GroupID: "g", Checksum: Checksum("p"), Payload: []byte("p"),
			Metadata: map[string]any{"offset": 3, "key": "k"}, ErrorClass: "E", ErrorMessage: "m"}); err != nil {
			t.Fatal(err)
		}
		fs, _ := st.ListFailures(ctx, Filter{Limit: 1})
		id := fs[0].ID
		before, err := st.metadataText(ctx, st.d, id)
		if err != nil {
			t.Fatal(err)
		}
		// While a retry runs, a second one is refused and the claim is visible.
		var inner error
		fail := runnerFunc(func(ctx context.Context, m Message) (Result, error) {
			if m.Offset != 3 || string(m.Key) != "k" {
				t.Errorf("message from metadata: %+v", m)
			}
			_, inner = Retry(ctx, st, runnerFunc(func(context.Context, Message) (Result, error) {
				t.Error("second retry ran its handler")
				return Result{}, nil
			}), Fields{}, id)
			f, _ := st.GetFailure(ctx, id)
			if !strings.Contains(string(f.Metadata), ClaimKey) {
				t.Errorf("metadata while retrying: %s", f.Metadata)
			}
			return Result{}, &HandlerError{Message: "still broken"}
		})
		_, err = Retry(ctx, st, fail, Fields{}, id)
		var re *RetryError
		if !errors.As(err, &re) {
			t.Fatalf("failing retry: %v", err)
		}
		var ce *ClaimedError
		if !errors.As(inner, &ce) || !errors.Is(inner, ErrClaimed) || !strings.Contains(inner.Error(), "already being retried") {
			t.Fatalf("concurrent retry: %v", inner)
		}
		// The failed retry put the metadata back exactly.
		after, _ := st.metadataText(ctx, st.d, id)
		if after != before {
			t.Fatalf("metadata after a failed retry: %q, was %q", after.String, before.String)
		}
		// A claim whose process died holds for ClaimLease, then is taken over.
		if _, err := st.claimFailure(ctx, id); err != nil {
			t.Fatal(err)
		}
		clock = clock.Add(ClaimLease - time.Second)
		if _, err := Retry(ctx, st, fail, Fields{}, id); !errors.Is(err, ErrClaimed) {
			t.Fatalf("retry within the lease: %v", err)
		}
		clock = clock.Add(2 * time.Second)
		acked, err := Retry(ctx, st, runnerFunc(func(context.Context, Message) (Result, error) { return Result{Acked: true}, nil }), Fields{}, id)
		if err != nil || !acked {
			t.Fatalf("retry after the lease expired: %v %v", acked, err)
		}
		if _, err := st.GetFailure(ctx, id); !errors.Is(err, ErrNotFound) {
			t.Fatalf("failure kept after a successful retry: %v", err)
		}
		if evs, _ := st.ListEvents(ctx, Filter{Limit: 5}); len(evs) != 1 {
			t.Fatalf("events: %d", len(evs))
		}
		if _, err := Retry(ctx, st, fail, Fields{}, id); !errors.Is(err, ErrNotFound) {
			t.Fatalf("retry of a deleted failure: %v", err)
		}
	})
}

// TestClaimMatchesTheExactText: the conditional UPDATE of a claim matches
// only the very metadata text that was read. MySQL's default collations
// compare text ignoring case and trailing spaces; a claim must not win over
// metadata that differs in either.
func TestClaimMatchesTheExactText(t *testing.T) {
	stores(t, func(t *testing.T, st *Store) {
		ctx := context.Background()
		if _, err := st.RecordFailure(ctx, NewFailure{Topic: "t", GroupID: "g", Checksum: Checksum("p"), Payload: []byte("p"),
			Metadata: map[string]any{"key": "abc"}, ErrorClass: "E", ErrorMessage: "m"}); err != nil {
			t.Fatal(err)
		}
		fs, _ := st.ListFailures(ctx, Filter{Limit: 1})
		id := fs[0].ID
		text, err := st.metadataText(ctx, st.d, id)
		if err != nil || !strings.Contains(text.String, "abc") {
			t.Fatalf("metadata %q %v", text.String, err)
		}
		for _, other := range []string{strings.ToUpper(text.String), text.String + "  "} {
			c := &claim{id: id, token: "x", since: time.Now(), md: map[string]json.RawMessage{}}
			err := st.writeClaim(ctx, c, sql.NullString{String: other, Valid: true}, time.Now())
			if !errors.Is(err, ErrClaimed) {
				t.Fatalf("a claim expecting %q took metadata %q: %v", other, text.String, err)
			}
		}
		c := &claim{id: id, token: "x", since: time.Now(), md: map[string]json.RawMessage{}}
		if err := st.writeClaim(ctx, c, text, time.Now()); err != nil {
			t.Fatalf("a claim expecting the text read: %v", err)
		}
	})
}
