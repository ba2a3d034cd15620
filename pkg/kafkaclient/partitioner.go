package kafkaclient

import (
	"context"
	"fmt"
	"hash/crc32"

	"github.com/twmb/franz-go/pkg/kgo"
)

// partitionKeyCtx is the context key under which a record carries a Deimos
// partition_key that differs from its Kafka key (the outbox's partition_key
// column, a producer's explicit partition key).
type partitionKeyCtx struct{}

// WithPartitionKey returns a context that makes the partitioner hash pk
// instead of the record's key. Set it as the record's Context.
func WithPartitionKey(ctx context.Context, pk []byte) context.Context {
	if ctx == nil {
		ctx = context.Background()
	}
	return &PartitionKeyContext{Context: ctx, Key: pk}
}

// PartitionKeyContext is what WithPartitionKey returns: ctx carrying a
// partition key. A caller producing many records can allocate them in one
// slice (set Context, never nil, and Key) and point each record's Context
// at one.
type PartitionKeyContext struct {
	context.Context
	Key []byte
}

// Value answers the partition key, and defers every other key to the parent.
func (c *PartitionKeyContext) Value(k any) any {
	if _, ok := k.(partitionKeyCtx); ok {
		return c.Key
	}
	return c.Context.Value(k)
}

func partitionKey(r *kgo.Record) ([]byte, bool) {
	switch c := r.Context.(type) {
	case nil:
		return nil, false
	case *PartitionKeyContext:
		return c.Key, true
	}
	pk, ok := r.Context.Value(partitionKeyCtx{}).([]byte)
	return pk, ok
}

// CRC32Hasher is librdkafka's consistent partitioner and ruby-kafka's default:
// crc32 (IEEE) of the key, unsigned, modulo the partition count.
func CRC32Hasher(key []byte, n int) int {
	return int(crc32.ChecksumIEEE(key) % uint32(n))
}

// Partitioner returns the partitioner by name: crc32 (default, matches Deimos,
// librdkafka and ruby-kafka) or murmur2 (the Java client's).
//
// A record whose Context carries WithPartitionKey is hashed on that value;
// otherwise on its key; records with neither (or an empty one) go to a sticky
// random partition, as librdkafka's consistent_random does.
func Partitioner(name string) (kgo.Partitioner, error) {
	var h kgo.PartitionerHasher
	switch name {
	case "", "crc32":
		h = CRC32Hasher
	case "murmur2":
		h = nil // franz-go's default: Kafka's murmur2
	default:
		return nil, fmt.Errorf("unknown partitioner %q (crc32 or murmur2)", name)
	}
	return &pkPartitioner{sticky: kgo.StickyKeyPartitioner(h), hash: h}, nil
}

// PartitionFor computes the partition the named partitioner picks for key
// among n partitions (used by tests and --dry-run output).
func PartitionFor(name string, key []byte, n int) int {
	if name == "murmur2" {
		p := kgo.StickyKeyPartitioner(nil).ForTopic("")
		return p.Partition(&kgo.Record{Key: key}, n)
	}
	return CRC32Hasher(key, n)
}

type pkPartitioner struct {
	sticky kgo.Partitioner
	hash   kgo.PartitionerHasher
}

func (p *pkPartitioner) ForTopic(topic string) kgo.TopicPartitioner {
	return &pkTopicPartitioner{inner: p.sticky.ForTopic(topic), hash: p.hash}
}

type pkTopicPartitioner struct {
	inner kgo.TopicPartitioner
	hash  kgo.PartitionerHasher
}

func (p *pkTopicPartitioner) key(r *kgo.Record) []byte {
	if pk, ok := partitionKey(r); ok && len(pk) > 0 {
		return pk
	}
	return r.Key
}

func (p *pkTopicPartitioner) RequiresConsistency(r *kgo.Record) bool { return len(p.key(r)) > 0 }

// keyless is what the sticky partitioner is given for a record without a
// key: one shared record (it only reads the key), not one allocated per
// call.
var keyless = &kgo.Record{}

func (p *pkTopicPartitioner) Partition(r *kgo.Record, n int) int {
	k := p.key(r)
	if len(k) == 0 {
		return p.inner.Partition(keyless, n)
	}
	if p.hash == nil {
		return p.inner.Partition(&kgo.Record{Key: k}, n)
	}
	return p.hash(k, n)
}

// OnNewBatch keeps the sticky behaviour for keyless records.
func (p *pkTopicPartitioner) OnNewBatch() {
	if nb, ok := p.inner.(kgo.TopicPartitionerOnNewBatch); ok {
		nb.OnNewBatch()
	}
}
