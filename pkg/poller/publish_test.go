package poller

import (
	"context"
	"errors"
	"reflect"
	"sync"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/deimos-cli/deimos/pkg/encode"
)

// failingProducer fails the records whose value is in fail (too large when
// the value starts with "big") and answers every promise from another
// goroutine, last record first, once the batch is complete.
type failingProducer struct {
	mu      sync.Mutex
	fail    map[string]bool
	n       int
	pending []func()
}

func (p *failingProducer) Produce(_ context.Context, r *kgo.Record, promise func(*kgo.Record, error)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var err error
	if p.fail[string(r.Value)] {
		err = errors.New("broker said no")
		if len(r.Value) >= 3 && string(r.Value[:3]) == "big" {
			err = kerr.MessageTooLarge
		}
	}
	p.pending = append(p.pending, func() { promise(r, err) })
	if len(p.pending) == p.n {
		fs := p.pending
		p.pending = nil
		go func() {
			for i := len(fs) - 1; i >= 0; i-- {
				fs[i]()
			}
		}()
	}
}

// The publisher's records share one promise: a failed record is still
// reported by its index into the batch, in batch order, whatever order the
// promises come in.
func TestKafkaPublisherReportsFailedIndexes(t *testing.T) {
	msgs := []encode.Encoded{
		{Topic: "t", Value: []byte("a")}, {Topic: "t", Value: []byte("bad1")}, {Topic: "t", Value: []byte("c")},
		{Topic: "t", Value: []byte("big1"), PartitionKey: []byte("k")}, {Topic: "t", Value: []byte("e")},
		{Topic: "t", Value: []byte("bad2")}, {Topic: "t", Value: []byte("big2")},
	}
	fail := map[string]bool{"bad1": true, "big1": true, "bad2": true, "big2": true}
	for _, tc := range []struct {
		name          string
		idx           []int
		failed, large []int
	}{
		{"whole batch", []int{0, 1, 2, 3, 4, 5, 6}, []int{1, 3, 5, 6}, []int{3, 6}},
		{"a retry of some", []int{2, 5, 6}, []int{5, 6}, []int{6}},
		{"all delivered", []int{0, 2, 4}, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &KafkaPublisher{Client: &failingProducer{fail: fail, n: len(tc.idx)}}
			err := p.produce(context.Background(), msgs, tc.idx)
			if tc.failed == nil {
				if err != nil {
					t.Fatalf("err = %v, want nil", err)
				}
				return
			}
			var ke *KafkaError
			if !errors.As(err, &ke) {
				t.Fatalf("err = %v, want a *KafkaError", err)
			}
			if !reflect.DeepEqual(ke.Failed, tc.failed) || !reflect.DeepEqual(ke.TooLarge, tc.large) {
				t.Fatalf("Failed = %v, TooLarge = %v; want %v, %v", ke.Failed, ke.TooLarge, tc.failed, tc.large)
			}
		})
	}
}
