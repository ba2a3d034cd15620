package outbox

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/deimos-cli/deimos/pkg/db"
	"github.com/deimos-cli/deimos/pkg/errs"
)

// parked is a worker's waiting reason while it waits for a topic.
const parked = "\x00parked"

// result is what a worker reports after it processed one topic: rows
// handled, and a database error outside the topic's own processing.
type result struct {
	topic   string
	n       int
	drained int64 // the last id of a topic the worker emptied, else -1
	err     error
}

// run takes topics from the dispatcher until it closes work, and reports
// each one's result.
func (w *worker) run(ctx context.Context, work <-chan string, results chan<- result) {
	for {
		w.waiting(parked)
		t, ok := <-work
		w.waiting("")
		if !ok {
			return
		}
		n, drained, err := w.processTopic(ctx, t)
		results <- result{topic: t, n: n, drained: drained, err: err}
	}
}

// dispatch runs the passes for all workers. A pass lists the topics with
// rows once (however many workers run) and hands each listed topic to one
// worker; a topic a worker is still draining is left out of the next
// listing's hand-out, so no worker tries a lock a sibling holds, and no
// worker starts a topic another one just drained on a listing gone stale.
// This is Deimos's pass (list, then lock and drain each topic, then ping
// the topics without rows) shared by the workers: the same statements on
// the same rows, fewer of them.
//
// In daemon mode a new listing starts PassInterval after the previous one
// once every topic of it has been handed out (a long drain does not hold
// back the other topics). With Once a pass waits for all its topics, and
// the run ends after a pass that handled no row. A failing pass (a
// database error listing, locking or pinging) is retried with back-off;
// with Once, after OnceAttempts failures or a non-transient error the run
// stops and that error is returned.
func (r *Relay) dispatch(ctx context.Context, work chan<- string, results <-chan result) error {
	o := r.opts
	log := o.Logger
	lw := &worker{r: r, log: log} // dbRetry's logging and metrics
	bg := context.WithoutCancel(ctx)
	var (
		queue    []string
		inFlight = map[string]bool{}
		listed   bool                 // a pass has run
		order    []string             // the last listing
		drained  = map[string]int64{} // Once: topics this pass emptied, to their last id
		passDid  bool                 // Once: the current pass handled a row
		passErr  bool                 // an error since the last listing
		nextList time.Time            // the earliest next listing
		backoff  = time.Second
		failures int
		stopping bool
		fatal    error
	)
	fail := func(err error) {
		passErr = true
		failures++
		if o.Once && (failures >= o.OnceAttempts || !db.IsTransient(err)) {
			fatal, stopping, queue = errs.Failedf("outbox: %w", err), true, nil
			return
		}
		log.Error("database error, retrying", "error", err, "retry_in", backoff.String())
		nextList = time.Now().Add(backoff)
		backoff = min(backoff*2, o.MaxBackoff)
	}
	setWait := func(why string) {
		r.mu.Lock()
		r.dispatchWait = why
		r.reportIdleLocked()
		r.mu.Unlock()
	}
	list := func() {
		setWait("")
		if listed && !passErr && len(inFlight) == 0 {
			backoff, failures = time.Second, 0
		}
		var topics []string
		list := r.st.topics
		if o.Once && len(drained) > 0 && r.st.d.Dialect.Name() == "postgres" {
			prev, done := order, drained
			list = func(ctx context.Context) ([]string, error) { return r.st.topicsAfterDrain(ctx, prev, done) }
		}
		err := lw.dbRetry(ctx, "listing topics", func() (err error) { topics, err = list(bg); return err })
		drained = map[string]int64{}
		if err == nil {
			err = lw.dbRetry(ctx, "ping empty topics", func() error { return r.st.pingEmptyTopics(bg, topics, o.Now()) })
			if err != nil {
				err = fmt.Errorf("ping empty topics: %w", err)
			}
		} else {
			err = fmt.Errorf("listing topics: %w", err)
		}
		listed, passDid, passErr = true, false, false
		if err != nil {
			fail(err)
			return
		}
		log.Debug("Found topics", "topics", topics)
		order = slices.Clone(topics)
		nextList = time.Now().Add(o.PassInterval)
		queue = slices.DeleteFunc(topics, func(t string) bool { return inFlight[t] })
		o.Progress.Progress()
	}
	for {
		if !stopping && ctx.Err() != nil {
			stopping, queue = true, nil
		}
		if stopping {
			if len(inFlight) == 0 {
				close(work)
				return fatal
			}
		} else if len(queue) == 0 {
			switch {
			case o.Once && len(inFlight) > 0:
				// the pass is not over
			case o.Once && listed && !passErr && !passDid:
				stopping = true
				continue
			case !time.Now().Before(nextList):
				list()
				continue
			}
		}
		var send chan<- string
		var head string
		if len(queue) > 0 {
			send, head = work, queue[0]
		}
		var wake <-chan time.Time
		var timer *time.Timer
		switch {
		case len(queue) > 0:
			setWait("") // handing out topics
		case !stopping && !(o.Once && len(inFlight) > 0):
			timer = time.NewTimer(time.Until(nextList))
			wake = timer.C
			if passErr {
				setWait("retrying after a database error")
			} else {
				setWait("waiting for rows")
			}
		default:
			setWait("waiting for rows") // for the workers' topics
		}
		select {
		case send <- head:
			queue = queue[1:]
			inFlight[head] = true
		case res := <-results:
			delete(inFlight, res.topic)
			passDid = passDid || res.n > 0
			if res.drained >= 0 && o.Once {
				drained[res.topic] = res.drained
			}
			if res.err != nil && !stopping {
				fail(res.err)
			}
		case <-wake:
		case <-ctx.Done():
		}
		if timer != nil {
			timer.Stop()
		}
	}
}
