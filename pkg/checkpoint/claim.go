package checkpoint

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/deimos-cli/deimos/pkg/db"
)

// A retry claims its failure before it runs the handler, so that at most one
// retry of a failure runs at a time, across API requests and processes. The
// claim lives in the row itself (the table's columns are phobos_db_checkpoint's,
// so no column is added): the metadata JSON gets a "deimos_retry_claim" entry,
// written by a conditional UPDATE that succeeds only if the metadata is still
// the text that was read. Of several concurrent claims exactly one matches.
// The retry renews its claim while the handler runs; a claim not renewed for
// ClaimLease (its process died) may be taken over. When the handler fails
// the metadata is put back exactly as it was; when it succeeds the row is
// deleted.

// ClaimKey is the metadata entry that marks a failure as being retried.
const ClaimKey = "deimos_retry_claim"

// ClaimLease is how long a claim holds without renewal.
const ClaimLease = 2 * time.Minute

// ErrClaimed is returned when another retry holds the failure.
var ErrClaimed = errors.New("already being retried")

// ClaimedError names who holds a claim and since when.
type ClaimedError struct {
	ID    int64
	Since time.Time
}

func (e *ClaimedError) Error() string {
	return fmt.Sprintf("failure %d is already being retried (since %s)", e.ID, e.Since.UTC().Format(TimeLayout))
}

func (e *ClaimedError) Unwrap() error { return ErrClaimed }

// claim is a held claim.
type claim struct {
	id    int64
	token string
	since time.Time
	orig  sql.NullString // the metadata text before the claim (restored on release)
	cur   string         // the metadata text with the claim, as last written
	md    map[string]json.RawMessage
}

type claimMark struct {
	Token string `json:"token"`
	Since string `json:"since"`
	At    string `json:"renewed_at"`
}

func (s *Store) metadataText(ctx context.Context, q querier, id int64) (sql.NullString, error) {
	var t sql.NullString
	err := q.QueryRowContext(ctx, s.d.Rebind("SELECT "+s.textOf("metadata")+" FROM "+FailuresTable+" WHERE id = ?"), id).Scan(&t)
	if errors.Is(err, sql.ErrNoRows) {
		return t, ErrNotFound
	}
	return t, err
}

// metaCond matches the metadata text exactly (NULL included). On MySQL
// the text is compared as bytes: its default collations ignore case and
// trailing spaces.
func (s *Store) metaCond(t sql.NullString) (string, []any) {
	if !t.Valid {
		return "metadata IS NULL", nil
	}
	if s.d.Dialect.Name() == "mysql" {
		return "CAST(" + s.textOf("metadata") + " AS BINARY) = CAST(? AS BINARY)", []any{t.String}
	}
	return s.textOf("metadata") + " = ?", []any{t.String}
}

// claimFailure claims failure id for this process (ErrNotFound, or a
// *ClaimedError when another live retry holds it).
func (s *Store) claimFailure(ctx context.Context, id int64) (*claim, error) {
	orig, err := s.metadataText(ctx, s.d, id)
	if err != nil {
		return nil, err
	}
	md := map[string]json.RawMessage{}
	if orig.Valid {
		if json.Unmarshal([]byte(orig.String), &md) != nil || md == nil {
			md = map[string]json.RawMessage{} // not an object: restored on release
		}
	}
	now := s.now().UTC()
	if raw, ok := md[ClaimKey]; ok {
		var m claimMark
		if json.Unmarshal(raw, &m) == nil {
			at, err1 := time.Parse(time.RFC3339Nano, m.At)
			since, _ := time.Parse(time.RFC3339Nano, m.Since)
			if err1 == nil && now.Sub(at) < ClaimLease {
				return nil, &ClaimedError{ID: id, Since: since}
			}
		}
		// An expired claim (its retry died): the metadata before it is not
		// known any more; drop the mark and take over.
		delete(md, ClaimKey)
	}
	tok := make([]byte, 16)
	_, _ = rand.Read(tok)
	c := &claim{id: id, token: hex.EncodeToString(tok), since: now, orig: orig, md: md}
	if err := s.writeClaim(ctx, c, orig, now); err != nil {
		return nil, err
	}
	return c, nil
}

// writeClaim sets the claim mark (renewed at now) if the metadata is still
// want; 0 rows means another retry got there first (or the row is gone).
func (s *Store) writeClaim(ctx context.Context, c *claim, want sql.NullString, now time.Time) error {
	mark, _ := json.Marshal(claimMark{Token: c.token, Since: c.since.Format(time.RFC3339Nano), At: now.Format(time.RFC3339Nano)})
	c.md[ClaimKey] = mark
	text, err := json.Marshal(c.md)
	if err != nil {
		return err
	}
	cond, args := s.metaCond(want)
	res, err := s.d.ExecContext(ctx, s.d.Rebind("UPDATE "+FailuresTable+" SET metadata = ? WHERE id = ? AND "+cond), append([]any{string(text), c.id}, args...)...)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 1 {
		// Keep the text as the database renders it (jsonb reformats).
		t, err := s.metadataText(ctx, s.d, c.id)
		if err != nil {
			return err
		}
		c.cur = t.String
		return nil
	}
	if _, err := s.metadataText(ctx, s.d, c.id); errors.Is(err, ErrNotFound) {
		return ErrNotFound
	}
	return &ClaimedError{ID: c.id, Since: now}
}

// renew refreshes the claim's renewed_at, as long as the claim is still ours.
func (s *Store) renew(ctx context.Context, c *claim) error {
	return s.writeClaim(ctx, c, sql.NullString{String: c.cur, Valid: true}, s.now().UTC())
}

// release puts the metadata back as it was before the claim (the handler
// failed; the failure stays).
func (s *Store) release(ctx context.Context, c *claim) error {
	var orig any
	if c.orig.Valid {
		orig = c.orig.String
	}
	cond, args := s.metaCond(sql.NullString{String: c.cur, Valid: true})
	_, err := s.d.ExecContext(ctx, s.d.Rebind("UPDATE "+FailuresTable+" SET metadata = ? WHERE id = ? AND "+cond), append([]any{orig, c.id}, args...)...)
	return err
}

// resolve deletes the claimed failure and, when ack is set, stores its event,
// in one transaction. When a unique index refuses the event (another
// consumer stored it meanwhile), the failure is still deleted: the event is
// there once.
func (s *Store) resolve(ctx context.Context, c *claim, ev *newEvent) error {
	write := func(ev *newEvent) error {
		return s.d.Tx(ctx, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, s.d.Rebind("DELETE FROM "+FailuresTable+" WHERE id = ?"), c.id); err != nil {
				return err
			}
			if ev == nil {
				return nil
			}
			_, err := s.insertEvent(ctx, tx, *ev)
			return err
		})
	}
	err := write(ev)
	if ev != nil && db.IsUniqueViolation(err) {
		err = write(nil)
	}
	return err
}

// keepClaim renews c every ClaimLease/4 until the returned stop is called.
func (s *Store) keepClaim(ctx context.Context, c *claim) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(ClaimLease / 4)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				_ = s.renew(context.WithoutCancel(ctx), c)
			}
		}
	}()
	return func() { close(done); <-finished }
}
