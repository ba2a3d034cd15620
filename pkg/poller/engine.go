package poller

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/deimos-cli/deimos/pkg/db"
	"github.com/deimos-cli/deimos/pkg/encode"
	"github.com/deimos-cli/deimos/pkg/errs"
	"github.com/deimos-cli/deimos/pkg/progress"
	"github.com/deimos-cli/deimos/pkg/sqlguard"
)

// Encoder is the part of the encode engine the poller uses.
type Encoder interface {
	SpecFor(topic string) (encode.Spec, bool)
	Encode(ctx context.Context, s encode.Spec, m encode.Message) (encode.Encoded, error)
	FieldNames(ctx context.Context, s encode.Spec) ([]string, error)
}

// Options build an Engine.
type Options struct {
	DB      *db.DB
	Encoder Encoder
	// Kafka publishes for pollers whose backend is kafka (nil when none is).
	Kafka  Producer
	Logger *slog.Logger
	// Metrics may be nil.
	Metrics *Metrics
	Now     func() time.Time
	// RetryWait is the pause between retries (default 500ms, as Deimos);
	// Kafka retries back off exponentially from it up to MaxBackoff (default 30s).
	RetryWait  time.Duration
	MaxBackoff time.Duration
	// RestartWait is the pause before a poller retries a failed run (default 5s, as Sigurd).
	RestartWait time.Duration
	// OnRun is called after every run of a poller (optional; tests and status).
	OnRun func(RunStats)
	// Progress hears each batch and run, and the waits between runs (optional).
	Progress progress.Reporter
}

// RunStats summarises one run of one poller (docs/deimos-compat.md §4.4).
type RunStats struct {
	Poller         string
	Batches        int
	ErroredBatches int
	Messages       int
	From, To       time.Time
	Err            error
}

// Engine runs pollers.
type Engine struct {
	o   Options
	log *slog.Logger
	// trx serialises the MySQL late-commit guard's reads of innodb_trx.
	trx trxReader
}

// New builds an engine.
func New(o Options) (*Engine, error) {
	if o.DB == nil || o.Encoder == nil {
		return nil, fmt.Errorf("poller: DB and Encoder are required")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.RetryWait <= 0 {
		o.RetryWait = 500 * time.Millisecond
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 30 * time.Second
	}
	if o.RestartWait <= 0 {
		o.RestartWait = 5 * time.Second
	}
	o.Progress = progress.Or(o.Progress)
	return &Engine{o: o, log: o.Logger}, nil
}

// Run runs the pollers, one goroutine each, until ctx is cancelled (the
// in-flight batch is finished first) or, with once, until each has caught up.
// It returns the first setup error, or with once the first run error.
func (e *Engine) Run(ctx context.Context, pollers []Settings, once bool) error {
	if len(pollers) == 0 {
		return errs.Usagef("poller: no pollers configured")
	}
	if err := checkPollTable(ctx, e.o.DB); err != nil {
		return err
	}
	if err := ensureRunsTable(ctx, e.o.DB); err != nil {
		e.log.Warn("cannot create "+RunsTable+"; poller status will not show last runs", "error", err)
	}
	ws := make([]*worker, 0, len(pollers))
	for _, s := range pollers {
		w, err := e.prepare(ctx, s)
		if err != nil {
			return err
		}
		ws = append(ws, w)
		e.o.Metrics.register(s.Name)
	}
	var wg sync.WaitGroup
	errc := make(chan error, len(ws))
	for _, w := range ws {
		wg.Add(1)
		go func(w *worker) {
			defer wg.Done()
			if err := w.loop(ctx, once); err != nil {
				errc <- fmt.Errorf("poller %s: %w", w.s.Name, err)
			}
		}(w)
	}
	wg.Wait()
	close(errc)
	return <-errc
}

// worker is one poller.
type worker struct {
	e    *Engine
	s    Settings
	spec encode.Spec
	src  source
	del  *source
	pub  Publisher
	log  *slog.Logger
	// guard is the late-commit guard in force (late_commit_guard, or the
	// dialect's default).
	guard string
	// warnedHidden: the late-commit guard's visibility warning was logged.
	warnedHidden bool
	// cursorDigits is how many fractional-second digits
	// deimos_poll_info.last_sent keeps on MySQL (0 or 6; -1: every digit,
	// other dialects). Times the poller writes there are cut to it.
	cursorDigits int
	// valueFields are the value schema's fields (nil: schemaless, every column).
	valueFields map[string]bool
	// keyFields are the key schema's fields (key_config schema; nil otherwise
	// or when the backend is schemaless).
	keyFields map[string]bool
	// colsArePayload: no mapping, no schema key, every selected column a
	// value field; a row's Cols map is then its payload, used as it is.
	colsArePayload bool
}

func (e *Engine) prepare(ctx context.Context, s Settings) (*worker, error) {
	d := e.o.DB
	w := &worker{e: e, s: s, log: e.log.With("poller", s.Name), guard: s.LateCommitGuard, cursorDigits: -1}
	if w.guard == "" {
		w.guard = defaultGuard(d.Dialect)
	}
	spec, _ := e.o.Encoder.SpecFor(s.Topic)
	spec.Topic = s.Topic
	if s.SchemaBackend != "" {
		spec.Backend = s.SchemaBackend
	}
	if s.Schema != "" {
		spec.Schema = s.Schema
	}
	if s.Namespace != "" {
		spec.Namespace = s.Namespace
	}
	if s.KeyConfig != nil {
		spec.KeyConfig = *s.KeyConfig
	}
	w.spec = spec
	fields, err := e.o.Encoder.FieldNames(ctx, spec)
	if err != nil {
		return nil, fmt.Errorf("poller %s: schema fields of topic %s: %w", s.Name, s.Topic, err)
	}
	if len(fields) > 0 {
		w.valueFields = map[string]bool{}
		for _, f := range fields {
			w.valueFields[f] = true
		}
	}
	if spec.KeyConfig.Mode() == "schema" && spec.KeyConfig.Primitive() == "" {
		// The key is the row's columns that are fields of the key schema
		// (Deimos: a payload_key hash); they need not be value fields.
		ks := encode.Spec{Topic: spec.Topic, Backend: spec.Backend, Schema: spec.KeyConfig.Schema, Namespace: spec.Namespace}
		kf, err := e.o.Encoder.FieldNames(ctx, ks)
		if err != nil {
			return nil, fmt.Errorf("poller %s: fields of key schema %s: %w", s.Name, spec.KeyConfig.Schema, err)
		}
		w.keyFields = map[string]bool{}
		for _, f := range kf {
			w.keyFields[f] = true
		}
		if len(fields) > 0 {
			fields = append(append([]string(nil), fields...), kf...)
		}
	}
	src, err := buildSource(ctx, d, s.Table, s.TimestampColumn, s.IDColumn, s.Mapping, fields, true)
	if err != nil {
		return nil, errs.Usagef("poller %s: %w", s.Name, err)
	}
	// Checked again for the database actually open (Resolve may not have
	// known it): the where is pasted into every batch query.
	if src.where, err = checkWhere(s.Where, []sqlguard.Dialect{db.Guard(d.Dialect)}); err != nil {
		return nil, errs.Usagef("poller %s: where: %w", s.Name, err)
	}
	for _, c := range []string{s.StateColumn, s.PublishTimestampColumn} {
		if c != "" && !src.has(c) {
			return nil, errs.Usagef("poller %s: column %q not found in table %s", s.Name, c, s.Table)
		}
	}
	w.src = src
	w.colsArePayload = len(s.Mapping) == 0 && (spec.KeyConfig.Mode() != "schema" || spec.KeyConfig.Primitive() != "")
	for _, c := range src.cols {
		if w.valueFields != nil && !w.valueFields[c] {
			w.colsArePayload = false
		}
	}
	if s.Deletions != nil {
		ds, err := buildSource(ctx, d, s.Deletions.Table, s.Deletions.TimestampColumn, s.Deletions.IDColumn, nil, []string{s.Deletions.KeyColumn}, false)
		if err != nil {
			return nil, errs.Usagef("poller %s: deletions: %w", s.Name, err)
		}
		if len(ds.cols) == 0 {
			return nil, errs.Usagef("poller %s: deletions: key_column %q not found in table %s", s.Name, s.Deletions.KeyColumn, s.Deletions.Table)
		}
		w.del = &ds
	}
	if s.Mode == TimeBased {
		if w.cursorDigits, err = cursorDigits(ctx, d, s, src, w.del); err != nil {
			return nil, err
		}
	}
	switch s.Backend {
	case "outbox":
		ok, err := d.TableExists(ctx, "kafka_messages")
		if err != nil {
			return nil, errs.Unavailablef("database: %w", err)
		}
		if !ok {
			return nil, errs.Failedf("poller %s: backend outbox needs table kafka_messages: run `deimos migrate up --only outbox`", s.Name)
		}
		w.pub = &OutboxPublisher{DB: d, Now: e.o.Now}
	default:
		if e.o.Kafka == nil {
			return nil, fmt.Errorf("poller %s: no Kafka producer", s.Name)
		}
		w.pub = &KafkaPublisher{Client: e.o.Kafka, DB: d}
	}
	return w, nil
}

// has reports whether the table has column c (selected or not).
func (s source) has(c string) bool {
	for _, x := range s.all {
		if x == c {
			return true
		}
	}
	return false
}

// buildSource checks the table and its columns and picks the payload
// columns: the table's columns whose (mapped) name is a schema field. A nil
// fields list (schemaless backends) selects every column.
func buildSource(ctx context.Context, d *db.DB, table, tsCol, idCol string, mapping map[string]string, fields []string, mapped bool) (source, error) {
	for _, n := range []string{table} {
		if err := validName(n, true); err != nil {
			return source{}, err
		}
	}
	for _, n := range []string{tsCol, idCol} {
		if err := validName(n, false); err != nil {
			return source{}, err
		}
	}
	ok, err := d.TableExists(ctx, lastPart(table))
	if err != nil {
		return source{}, errs.Unavailablef("database: %w", err)
	}
	if !ok {
		return source{}, fmt.Errorf("table %s does not exist", table)
	}
	rows, err := d.QueryContext(ctx, "SELECT * FROM "+d.Q(table)+" WHERE 1=0")
	if err != nil {
		return source{}, fmt.Errorf("reading columns of %s: %w", table, err)
	}
	cts, err := rows.ColumnTypes()
	rows.Close()
	if err != nil {
		return source{}, fmt.Errorf("reading columns of %s: %w", table, err)
	}
	s := source{table: table, tsCol: tsCol, idCol: idCol, boolCols: map[string]bool{}, textCols: map[string]bool{}}
	mysql := d.Dialect.Name() == "mysql"
	if mysql {
		// Rails's booleans are tinyint(1), which the driver reads as integers.
		if s.boolCols, err = mysqlBoolColumns(ctx, d, table); err != nil {
			return source{}, err
		}
	}
	want := map[string]bool{}
	for _, f := range fields {
		want[f] = true
	}
	for _, ct := range cts {
		c := ct.Name()
		s.all = append(s.all, c)
		if strings.Contains(strings.ToUpper(ct.DatabaseTypeName()), "BOOL") {
			s.boolCols[c] = true
		}
		if mysql && isMySQLText(ct) {
			s.textCols[c] = true
		}
		f := c
		if mapped {
			if m, ok := mapping[c]; ok {
				f = m
			}
		}
		if len(fields) == 0 || want[f] {
			s.cols = append(s.cols, c)
		}
	}
	for _, c := range []string{tsCol, idCol} {
		if !s.has(c) {
			return s, fmt.Errorf("column %q not found in table %s (columns: %s)", c, table, strings.Join(s.all, ", "))
		}
	}
	for c := range mapping {
		if !s.has(c) {
			return s, fmt.Errorf("mapping: column %q not found in table %s", c, table)
		}
	}
	return s, nil
}

func lastPart(t string) string {
	if i := strings.LastIndexByte(t, '.'); i >= 0 {
		return t[i+1:]
	}
	return t
}

// loop runs the poller until ctx is done (or caught up, with once).
func (w *worker) loop(ctx context.Context, once bool) error {
	for {
		st, err := w.runOnce(ctx)
		if w.e.o.OnRun != nil {
			w.e.o.OnRun(st)
		}
		w.e.o.Metrics.observeRun(w.s.Name, st)
		if rerr := recordRun(context.WithoutCancel(ctx), w.e.o.DB, st, w.e.o.Now()); rerr != nil {
			w.log.Debug("recording run", "error", rerr)
		}
		if err == nil {
			lvl := slog.LevelDebug
			if st.Messages > 0 {
				lvl = slog.LevelInfo
			}
			w.log.Log(ctx, lvl, "poll complete", "batches", st.Batches, "errored_batches", st.ErroredBatches, "messages", st.Messages, "to", st.To)
		}
		if ctx.Err() != nil {
			return nil
		}
		w.e.o.Progress.Progress()
		if err != nil {
			if once {
				if db.IsConnError(err) && errs.KindOf(err) == errs.KindFailed {
					return errs.Unavailable(err)
				}
				return err
			}
			w.log.Error("poll failed; retrying", "error", w.e.o.DB.Scrub(err.Error()), "retry_in", w.e.o.RestartWait)
			if !w.sleep(ctx, w.e.o.RestartWait, "retrying after an error") {
				return nil
			}
			continue
		}
		if once {
			return nil
		}
		wait := w.s.RunEvery
		if st.Messages > 0 && w.s.Mode == TimeBased && !w.s.FullTable {
			wait = 0 // a run that found rows is followed by an immediate run (docs/deimos-compat.md §4.2)
		}
		if !w.sleep(ctx, wait, "waiting for the next run") {
			return nil
		}
	}
}

// sleep is db.SleepCtx (true: slept; false: ctx ended), reported to
// Progress as waiting for reason.
func (w *worker) sleep(ctx context.Context, d time.Duration, reason string) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	w.e.o.Progress.Idle(reason)
	defer w.e.o.Progress.Idle("")
	return db.SleepCtx(ctx, d) == nil
}

// runOnce is one run: every batch up to the poll's upper bound, then deletions.
func (w *worker) runOnce(ctx context.Context) (RunStats, error) {
	st := RunStats{Poller: w.s.Name}
	var err error
	if w.s.Mode == StateBased {
		err = w.runState(ctx, &st)
	} else {
		err = w.runTime(ctx, &st, w.s.Name, w.src, false)
		if err == nil && w.del != nil && ctx.Err() == nil {
			err = w.runTime(ctx, &st, DeletionsName(w.s.Name), *w.del, true)
		}
	}
	st.Err = err
	return st, err
}

// runTime is a time-based run (docs/deimos-compat.md §4.2) for one source
// (the table, or its deletions).
func (w *worker) runTime(ctx context.Context, st *RunStats, producer string, src source, tombstones bool) error {
	d := w.e.o.DB
	info, err := EnsurePollInfo(ctx, d, producer, w.s.StartFromBegin, db.TruncTime(w.e.o.Now(), w.cursorDigits))
	if err != nil {
		return err
	}
	from := info.Cursor
	if w.s.FullTable {
		from = Cursor{TS: beginningArg(d.Dialect), ID: 0}
	}
	to, err := w.upperBound(ctx)
	if err != nil || to.IsZero() {
		return err
	}
	st.From, st.To = from.Time(), to
	w.log.Debug("polling", "source", src.table, "topic", w.s.Topic, "from", from.Time(), "from_id", from.ID, "to", to)
	q := timeQuery(d, src, w.s.BatchSize)
	toArg := tsArg(d.Dialect, to)
	query, done := prepareBatch(ctx, d, q)
	defer done()
	first := true
	for ctx.Err() == nil {
		rows, err := fetchWith(ctx, d, src, query, timeArgs(d, from, toArg)...)
		if err != nil {
			return err
		}
		if len(rows) == 0 {
			break
		}
		first = false
		last := rows[len(rows)-1].Cursor
		commit := func(ctx context.Context, tx *sql.Tx) error { return SaveCursor(ctx, tx, d, info.RowID, last) }
		if err := w.process(ctx, st, rows, tombstones, commit, nil); err != nil {
			return err
		}
		w.e.o.Progress.Progress()
		from = last
		if len(rows) < w.s.BatchSize {
			break
		}
	}
	if first && ctx.Err() == nil && !w.s.FullTable && to.After(from.Time()) {
		// Departure (docs/deimos-compat.md §4.6): advance to the poll's upper bound, never to now.
		if err := SaveCursor(ctx, d, d, info.RowID, Cursor{TS: to, ID: 0}); err != nil {
			return err
		}
	}
	return nil
}

// runState is a state-based run (docs/deimos-compat.md §4.3).
func (w *worker) runState(ctx context.Context, st *RunStats) error {
	d := w.e.o.DB
	info, err := EnsurePollInfo(ctx, d, w.s.Name, true, w.e.o.Now())
	if err != nil {
		return err
	}
	touch := func(ctx context.Context, tx *sql.Tx) error {
		return SaveCursor(ctx, tx, d, info.RowID, Cursor{TS: w.e.o.Now(), ID: info.Cursor.ID})
	}
	q, args := stateQuery(d, w.src, w.s, w.s.BatchSize)
	for ctx.Err() == nil {
		rows, err := fetch(ctx, d, w.src, q, args...)
		if err != nil {
			return err
		}
		if len(rows) == 0 {
			break
		}
		okCommit := func(ctx context.Context, tx *sql.Tx) error {
			if err := touch(ctx, tx); err != nil {
				return err
			}
			return finalizeStates(ctx, tx, d, w.s, rows, true, w.e.o.Now())
		}
		failCommit := func(ctx context.Context, tx *sql.Tx) error {
			if err := touch(ctx, tx); err != nil {
				return err
			}
			return finalizeStates(ctx, tx, d, w.s, rows, false, w.e.o.Now())
		}
		before := st.ErroredBatches
		if err := w.process(ctx, st, rows, false, okCommit, failCommit); err != nil {
			return err
		}
		w.e.o.Progress.Progress()
		if st.ErroredBatches > before && w.s.FailedState == "" && w.s.PublishTimestampColumn == "" {
			// the failed rows still match the query: stop until the next run
			break
		}
	}
	return nil
}

// process encodes and publishes one batch with Deimos's error handling
// (docs/deimos-compat.md §4.4), then commits (the cursor or the state
// columns). failCommit (state-based) records a batch given up on; nil means
// commit as usual.
func (w *worker) process(ctx context.Context, st *RunStats, rows []Row, tombstones bool, commit, failCommit CommitFunc) error {
	work := context.WithoutCancel(ctx) // finish the in-flight batch on shutdown
	st.Batches++
	st.Messages += len(rows)
	attempt := 0
	var msgs []encode.Encoded
	var ids []int64
	var bad []int
	var encErr error
	// delivered: Kafka acked every record but saving the cursor failed (the
	// connection was lost, say): retry only the save, do not send the batch again.
	delivered := false
	for {
		if !delivered {
			msgs, ids, bad, encErr = w.encodeAll(work, rows, tombstones)
		}
		var err error
		if delivered {
			err = w.e.o.DB.Tx(work, func(tx *sql.Tx) error { return commit(work, tx) })
			if err == nil {
				w.e.o.Metrics.published(w.s.Name, len(msgs))
				return nil
			}
		} else if encErr == nil {
			var skipped int
			skipped, err = w.publishKafkaRetry(ctx, work, msgs, ids, commit, st)
			if err == nil || errors.Is(err, errSkippedTooLarge) {
				w.e.o.Metrics.published(w.s.Name, len(msgs)-skipped)
				return nil
			}
			var ce *CommitError
			if errors.As(err, &ce) {
				delivered = true
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
		} else {
			err = encErr
		}
		attempt++
		w.log.Error("error publishing through DB poller", "error", err, "attempt", attempt)
		if w.s.Retries >= 0 && attempt > w.s.Retries {
			if delivered {
				// the rows are on Kafka: neither skip nor mark them failed. The
				// run fails; the next one sends the batch again (at least once).
				return fmt.Errorf("saving the cursor after delivering the batch: %w", err)
			}
			w.log.Error("retries exceeded, moving on to next batch", "skipped_ids", idList(rows, bad, encErr == nil))
			st.ErroredBatches++
			w.e.o.Metrics.erroredBatch(w.s.Name)
			// Deimos moves on without the batch. We still publish the rows that
			// encoded, when the failure was theirs alone.
			if encErr != nil && len(msgs) > 0 {
				if skipped, err := w.publishKafkaRetry(ctx, work, msgs, ids, nil, st); err == nil || errors.Is(err, errSkippedTooLarge) {
					w.e.o.Metrics.published(w.s.Name, len(msgs)-skipped)
				}
			}
			fc := commit
			if failCommit != nil {
				fc = failCommit
			}
			if err := w.e.o.DB.Tx(work, func(tx *sql.Tx) error { return fc(work, tx) }); err != nil {
				return fmt.Errorf("recording errored batch: %w", err)
			}
			return nil
		}
		if db.SleepCtx(ctx, w.e.o.RetryWait) != nil {
			return ctx.Err()
		}
	}
}

var errSkippedTooLarge = errors.New("too-large messages skipped")

// publishKafkaRetry publishes; Kafka errors retry (only the failed records)
// with capped exponential back-off until ctx is cancelled. Too-large records
// are skipped (with their ids logged) when skip_too_large is set: it then
// returns how many were skipped and errSkippedTooLarge (every other record of
// msgs was delivered). commit nil: publish only.
func (w *worker) publishKafkaRetry(ctx, work context.Context, msgs []encode.Encoded, ids []int64, commit CommitFunc, st *RunStats) (int, error) {
	if commit == nil {
		commit = func(context.Context, *sql.Tx) error { return nil }
	}
	noCommit := func(context.Context, *sql.Tx) error { return nil }
	backoff := w.e.o.RetryWait
	for {
		err := w.pub.Publish(work, msgs, commit)
		var ke *KafkaError
		if !errors.As(err, &ke) {
			return 0, err
		}
		w.e.o.Metrics.kafkaError(w.s.Name)
		failed := ke.Failed
		if w.s.SkipTooLarge && len(ke.TooLarge) > 0 && len(ke.TooLarge) == len(ke.Failed) {
			var skipped []int64
			var retry []int // rejected for another reason when sent alone
			for _, i := range ke.TooLarge {
				if len(ke.TooLarge) > 1 {
					// The broker rejects a whole produce batch when it is too
					// large: resend each record alone so only the truly
					// too-large ones are skipped.
					err := w.pub.Publish(work, msgs[i:i+1], noCommit)
					if err == nil {
						continue // delivered
					}
					var ke1 *KafkaError
					if !errors.As(err, &ke1) || len(ke1.TooLarge) == 0 {
						if ctx.Err() != nil {
							return 0, ctx.Err()
						}
						retry = append(retry, i)
						continue
					}
				}
				skipped = append(skipped, ids[i])
			}
			if len(retry) == 0 {
				w.log.Error("skipping messages since they are too large", "ids", skipped, "error", ke.Err)
				st.ErroredBatches++
				w.e.o.Metrics.erroredBatch(w.s.Name)
				if err := w.e.o.DB.Tx(work, func(tx *sql.Tx) error { return commit(work, tx) }); err != nil {
					return 0, err
				}
				return len(skipped), errSkippedTooLarge
			}
			// another error: retry what is still undelivered (records
			// delivered alone are not sent again)
			failed = append(retry, skippedIdx(ids, ke.TooLarge, skipped)...)
		}
		w.log.Error("error publishing through DB poller (kafka); retrying", "error", ke.Err, "failed", len(failed), "retry_in", backoff)
		if db.SleepCtx(ctx, backoff) != nil {
			return 0, ctx.Err()
		}
		backoff = min(backoff*2, w.e.o.MaxBackoff)
		// retry only what was not delivered
		nm := make([]encode.Encoded, len(failed))
		ni := make([]int64, len(failed))
		for j, i := range failed {
			nm[j], ni[j] = msgs[i], ids[i]
		}
		msgs, ids = nm, ni
	}
}

// skippedIdx maps the skipped ids back to their indexes among cand.
func skippedIdx(ids []int64, cand []int, skipped []int64) []int {
	var out []int
	for _, i := range cand {
		for _, id := range skipped {
			if ids[i] == id {
				out = append(out, i)
				break
			}
		}
	}
	return out
}

// encodeAll encodes every row. On errors it still returns what encoded, with
// bad = indexes of rows that failed and the first error.
func (w *worker) encodeAll(ctx context.Context, rows []Row, tombstones bool) ([]encode.Encoded, []int64, []int, error) {
	msgs := make([]encode.Encoded, 0, len(rows))
	ids := make([]int64, 0, len(rows))
	var bad []int
	var first error
	for i, r := range rows {
		m := w.message(r, tombstones)
		enc, err := w.e.o.Encoder.Encode(ctx, w.spec, m)
		if err != nil {
			bad = append(bad, i)
			if first == nil {
				first = fmt.Errorf("row %s=%d: %w", w.s.IDColumn, r.ID, err)
			}
			continue
		}
		msgs = append(msgs, enc)
		ids = append(ids, r.ID)
	}
	return msgs, ids, bad, first
}

// message builds the payload (mapped column names) and key of a row.
func (w *worker) message(r Row, tombstone bool) encode.Message {
	if tombstone {
		var key any
		for _, v := range r.Cols {
			key = v
		}
		return encode.Message{Value: nil, Key: keyValue(key)}
	}
	if w.colsArePayload {
		// the row's columns are the payload as they are: no copy per row
		m := encode.Message{Value: r.Cols}
		if w.spec.KeyConfig.Mode() == "plain" || w.spec.KeyConfig.Primitive() != "" {
			m.Key = r.ID
		}
		return m
	}
	payload := make(map[string]any, len(r.Cols))
	var key map[string]any
	primitiveKey := w.spec.KeyConfig.Primitive() != ""
	schemaKey := w.spec.KeyConfig.Mode() == "schema" && !primitiveKey
	if schemaKey {
		key = map[string]any{}
	}
	for c, v := range r.Cols {
		f := c
		if m, ok := w.s.Mapping[c]; ok {
			f = m
		}
		if w.valueFields == nil || w.valueFields[f] {
			payload[f] = v
		}
		if schemaKey && (w.keyFields == nil || w.keyFields[f]) {
			key[f] = v
		}
	}
	m := encode.Message{Value: payload}
	switch {
	case w.spec.KeyConfig.Mode() == "plain", primitiveKey:
		m.Key = r.ID // the id column's value (a primitive key schema encodes it)
	case schemaKey:
		m.Key = key
	}
	return m
}

func keyValue(v any) any {
	if b, ok := v.([]byte); ok {
		return string(b)
	}
	return v
}

func idList(rows []Row, bad []int, all bool) []int64 {
	var out []int64
	if all || len(bad) == 0 {
		for _, r := range rows {
			out = append(out, r.ID)
		}
		return out
	}
	for _, i := range bad {
		out = append(out, rows[i].ID)
	}
	return out
}
