package consume

import (
	"context"
	"encoding/binary"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The tail probe: when -e or --until waits on a partition whose last
// offsets hold no readable record (aborted or control batches, compacted
// gaps), a direct fetch tells that the partition is done.

// probeTails asks each pending partition's leader for data at our position.
// An empty answer with a high watermark at or past the stop means the rest of
// the partition (up to the stop) holds nothing to read: compacted away,
// aborted, or markers. Such partitions are done.
func probeTails(ctx context.Context, adm *kadm.Client, cl *kgo.Client, o Options, pending map[tp]int64, pos map[tp]int64, plan *offsetPlan) error {
	var topics []string
	seen := map[string]bool{}
	for k := range pending {
		if !seen[k.t] {
			seen[k.t] = true
			topics = append(topics, k.t)
		}
	}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	md, err := adm.Metadata(pctx, topics...)
	if err != nil {
		return err
	}
	for k, stop := range pending {
		at, ok := pos[k]
		if !ok {
			at = plan.parts[k].Start
		}
		td, ok := md.Topics[k.t]
		if !ok {
			continue
		}
		pd, ok := td.Partitions[k.p]
		if !ok || pd.Leader < 0 {
			continue
		}
		req := kmsg.NewPtrFetchRequest()
		req.ReplicaID = -1
		req.MaxWaitMillis = 0
		req.MinBytes = 1
		req.MaxBytes = 1 << 20
		req.SessionEpoch = -1
		if o.ReadCommitted {
			req.IsolationLevel = 1
		}
		rt := kmsg.NewFetchRequestTopic()
		rt.Topic = k.t
		rt.TopicID = td.ID
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.Partition = k.p
		rp.FetchOffset = at
		rp.PartitionMaxBytes = 1 << 20
		rp.CurrentLeaderEpoch = -1
		rp.LogStartOffset = -1
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		b := cl.Broker(int(pd.Leader))
		if b == nil {
			continue
		}
		resp, err := b.Request(pctx, req)
		if err != nil {
			return err
		}
		fr, _ := resp.(*kmsg.FetchResponse)
		if fr == nil {
			continue
		}
		for _, t := range fr.Topics {
			for _, p := range t.Partitions {
				if p.Partition != k.p || p.ErrorCode != 0 {
					continue
				}
				if len(p.RecordBatches) == 0 {
					if p.HighWatermark >= stop || at >= stop {
						delete(pending, k)
					}
					continue
				}
				// Batches came back: done only if none of them holds a
				// readable record in [at, stop) — a batch compacted to
				// nothing, markers, aborted data, or records below at
				// (already delivered) — and they reach the stop.
				has, next := readableIn(p.RecordBatches, at, stop, o.ReadCommitted, p.AbortedTransactions)
				if !has && next >= stop {
					delete(pending, k)
				} else if !has && next > at {
					pos[k] = next // skip past it; the next probe asks from there
				}
			}
		}
	}
	return nil
}

var probeDecompressor = kgo.DefaultDecompressor()

// readableIn reports whether the raw record batches of a fetch response hold
// a record a consumer would deliver with an offset in [at, stop), and the
// offset just past the last batch seen. Anything it cannot parse counts as
// readable (the caller then keeps waiting rather than stopping early).
func readableIn(raw []byte, at, stop int64, readCommitted bool, aborted []kmsg.FetchResponseTopicPartitionAbortedTransaction) (bool, int64) {
	next := at
	pendingAborts := append([]kmsg.FetchResponseTopicPartitionAbortedTransaction(nil), aborted...)
	activeAbort := map[int64]bool{} // producers inside an aborted transaction (as kgo tracks them)
	for len(raw) >= 12 {
		length := int64(binary.BigEndian.Uint32(raw[8:12]))
		if length < 49 || int64(len(raw)) < 12+length {
			break // a partial trailing batch: nothing more to learn here
		}
		var b kmsg.RecordBatch
		if err := b.ReadFrom(raw[:12+length]); err != nil {
			return true, next
		}
		raw = raw[12+length:]
		if b.Magic != 2 {
			return true, next
		}
		last := b.FirstOffset + int64(b.LastOffsetDelta)
		if last+1 > next {
			next = last + 1
		}
		if readCommitted {
			kept := pendingAborts[:0]
			for _, a := range pendingAborts {
				if a.FirstOffset <= last && a.ProducerID == b.ProducerID {
					activeAbort[a.ProducerID] = true
				} else {
					kept = append(kept, a)
				}
			}
			pendingAborts = kept
			if b.Attributes&0x20 != 0 {
				delete(activeAbort, b.ProducerID) // a marker ends the transaction
			}
		}
		if last < at || b.FirstOffset >= stop || b.NumRecords == 0 || b.Attributes&0x20 != 0 {
			continue // below us, past the stop, compacted to nothing, or a control batch
		}
		if readCommitted && b.Attributes&0x10 != 0 && activeAbort[b.ProducerID] {
			continue // aborted data
		}
		recs := b.Records
		if codec := kgo.CompressionCodecType(b.Attributes & 0x07); codec != 0 {
			d, err := probeDecompressor.Decompress(recs, codec)
			if err != nil {
				return true, next
			}
			recs = d
		}
		for i := int32(0); i < b.NumRecords; i++ {
			l, n := binary.Varint(recs)
			if n <= 0 || l < 0 || int64(len(recs)-n) < l {
				return true, next
			}
			body := recs[n : n+int(l)]
			recs = recs[n+int(l):]
			if len(body) < 1 {
				return true, next
			}
			body = body[1:]              // attributes
			_, n1 := binary.Varint(body) // timestamp delta
			if n1 <= 0 {
				return true, next
			}
			od, n2 := binary.Varint(body[n1:])
			if n2 <= 0 {
				return true, next
			}
			if off := b.FirstOffset + od; off >= at && off < stop {
				return true, next
			}
		}
	}
	return false, next
}
