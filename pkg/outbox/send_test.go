package outbox

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"
)

// The producer reports results in the order the partitions' batches
// complete, not the order the records were given. A too-large row in a
// batch spread over partitions must still be the one dead-lettered, and
// every other row sent: before, the results were matched to rows by
// position, so another row was dead-lettered and the large one deleted
// unsent.
func TestTooLargeInAMultiPartitionBatchIsTheRowDeadLettered(t *testing.T) {
	for name, url := range testDBs(t) {
		t.Run(name, func(t *testing.T) {
			c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, "mixed"), kfake.BrokerConfigs(map[string]string{"message.max.bytes": "3000"}))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(c.Close)
			brokers := c.ListenAddrs()
			d := migrated(t, url(t))
			large := incompressible(6000)
			const n, big = 40, 29
			for i := 0; i < n; i++ {
				msg := []byte(fmt.Sprintf("small-%d", i))
				if i == big {
					msg = large
				}
				rubyInsert(t, d, "mixed", msg, []byte(fmt.Sprintf("k%d", i)), nil)
			}
			s, err := run(t, d, producer(t, brokers), Options{})
			if err != nil {
				t.Fatal(err)
			}
			if s.Published != n-1 || s.DeadLettered != 1 {
				t.Errorf("summary %+v", s)
			}
			seen := map[string]bool{}
			for _, r := range consumeAll(t, brokers, n-1, "mixed") {
				seen[string(r.Value)] = true
			}
			for i := 0; i < n; i++ {
				if v := fmt.Sprintf("small-%d", i); i != big && !seen[v] {
					t.Errorf("%s was not sent", v)
				}
			}
			var msg []byte
			var orig int64
			if err := d.QueryRowContext(context.Background(), "SELECT message, original_id FROM deimos_dead_letters").Scan(&msg, &orig); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(msg, large) || orig != big+1 {
				t.Errorf("dead letter: row %d (%.20q), want row %d, the large one", orig, msg, big+1)
			}
		})
	}
}
