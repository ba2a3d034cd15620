package poller

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/deimos-cli/deimos/pkg/db"
	"github.com/deimos-cli/deimos/pkg/encode"
	"github.com/deimos-cli/deimos/pkg/kafkaclient"
	"github.com/deimos-cli/deimos/pkg/outbox"
)

// CommitFunc records a published batch (cursor, state columns) inside tx.
type CommitFunc func(ctx context.Context, tx *sql.Tx) error

// Publisher delivers encoded messages, then runs commit. The Kafka publisher
// commits after every record was acknowledged; the outbox publisher inserts the
// kafka_messages rows and runs commit in ONE transaction (exactly once into the outbox).
type Publisher interface {
	Publish(ctx context.Context, msgs []encode.Encoded, commit CommitFunc) error
}

// KafkaError is a delivery failure of some records of a batch.
type KafkaError struct {
	Failed   []int // indexes into the batch of records not delivered
	TooLarge []int // subset of Failed rejected as too large
	Err      error // the first error
}

func (e *KafkaError) Error() string {
	return fmt.Sprintf("kafka: %d of the batch's records not delivered: %v", len(e.Failed), e.Err)
}
func (e *KafkaError) Unwrap() error { return e.Err }

// Producer is the part of *kgo.Client the Kafka publisher needs.
type Producer interface {
	Produce(ctx context.Context, r *kgo.Record, promise func(*kgo.Record, error))
}

// KafkaPublisher produces a batch asynchronously and waits for every ack.
type KafkaPublisher struct {
	Client Producer
	DB     *db.DB
}

// IsTooLarge reports a Kafka "message too large" rejection.
func IsTooLarge(err error) bool {
	return errors.Is(err, kerr.MessageTooLarge) || errors.Is(err, kerr.RecordListTooLarge)
}

// Publish implements Publisher. On partial failure it returns a *KafkaError and
// does not commit; Retry only the failed records via PublishSubset.
func (p *KafkaPublisher) Publish(ctx context.Context, msgs []encode.Encoded, commit CommitFunc) error {
	idx := make([]int, len(msgs))
	for i := range idx {
		idx[i] = i
	}
	if err := p.produce(ctx, msgs, idx); err != nil {
		return err
	}
	if err := p.DB.Tx(ctx, func(tx *sql.Tx) error { return commit(ctx, tx) }); err != nil {
		return &CommitError{Err: err}
	}
	return nil
}

// CommitError is a failure to record a batch that Kafka acknowledged in full:
// a retry needs only the commit.
type CommitError struct{ Err error }

func (e *CommitError) Error() string {
	return "batch delivered, saving the cursor failed: " + e.Err.Error()
}
func (e *CommitError) Unwrap() error { return e.Err }

// produce sends msgs[idx...] and waits for all acks. The batch's records
// (and their partition-key contexts) are one allocation and share one promise (a record's index is found from
// its address, only when it failed): no per-record closure or record alloc.
func (p *KafkaPublisher) produce(ctx context.Context, msgs []encode.Encoded, idx []int) error {
	var wg sync.WaitGroup
	var mu sync.Mutex
	var kerrv *KafkaError
	recs := make([]kgo.Record, len(idx))
	var pks []kafkaclient.PartitionKeyContext
	promise := func(r *kgo.Record, err error) {
		defer wg.Done()
		if err == nil {
			return
		}
		j := 0
		for j < len(recs) && &recs[j] != r {
			j++
		}
		i := idx[j]
		mu.Lock()
		defer mu.Unlock()
		if kerrv == nil {
			kerrv = &KafkaError{Err: err}
		}
		kerrv.Failed = append(kerrv.Failed, i)
		if IsTooLarge(err) {
			kerrv.TooLarge = append(kerrv.TooLarge, i)
		}
	}
	wg.Add(len(idx))
	for j, i := range idx {
		m := msgs[i]
		rctx := ctx
		if m.PartitionKey != nil {
			if pks == nil {
				pks = make([]kafkaclient.PartitionKeyContext, len(idx))
			}
			pks[j] = kafkaclient.PartitionKeyContext{Context: ctx, Key: m.PartitionKey}
			rctx = &pks[j]
		}
		recs[j] = kgo.Record{Topic: m.Topic, Key: m.Key, Value: m.Value, Context: rctx}
		p.Client.Produce(ctx, &recs[j], promise)
	}
	wg.Wait()
	if kerrv != nil {
		sort.Ints(kerrv.Failed) // promises of different partitions finish in any order
		sort.Ints(kerrv.TooLarge)
		return kerrv
	}
	return nil
}

// OutboxPublisher writes the batch into kafka_messages in the same
// transaction as the cursor update.
type OutboxPublisher struct {
	DB  *db.DB
	Now func() time.Time
}

// Publish implements Publisher.
func (p *OutboxPublisher) Publish(ctx context.Context, msgs []encode.Encoded, commit CommitFunc) error {
	rows := make([]outbox.Row, len(msgs))
	for i, m := range msgs {
		rows[i] = outbox.Row{Topic: m.Topic, Message: m.Value, Key: m.Key}
		if m.PartitionKey != nil {
			pk := string(m.PartitionKey)
			rows[i].PartitionKey = &pk
		}
	}
	now := time.Now
	if p.Now != nil {
		now = p.Now
	}
	return p.DB.Tx(ctx, func(tx *sql.Tx) error {
		if err := outbox.Insert(ctx, tx, p.DB.Dialect, rows, now()); err != nil {
			return err
		}
		return commit(ctx, tx)
	})
}
