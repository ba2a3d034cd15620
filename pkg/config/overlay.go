package config

import (
	"time"

	"github.com/deimos-cli/deimos/pkg/errs"
)

// The "flag beats config" rules of each command live here, beside the
// settings they override, so a command only parses its flags and says which
// were given. (The global flags are Settings; consume's are ResolveConsumer.)

// OutboxFlags are `outbox run`'s flags; nil means not given.
type OutboxFlags struct {
	Workers, BatchSize         *int
	CompactTopics, MetricsAddr *string
	// DeliveryTimeout is the flag's value (its default when not given),
	// used when given or when the config sets none.
	DeliveryTimeout    time.Duration
	DeliveryTimeoutSet bool
}

// WithFlags returns the outbox settings with the flags laid over them, and
// a usage error when the result cannot run.
func (o Outbox) WithFlags(fl OutboxFlags) (Outbox, error) {
	if fl.Workers != nil {
		o.Workers = *fl.Workers
	}
	if fl.BatchSize != nil {
		o.BatchSize = *fl.BatchSize
	}
	if fl.CompactTopics != nil {
		o.CompactTopics = ParseTopicMatch(*fl.CompactTopics)
	}
	if fl.MetricsAddr != nil {
		o.MetricsAddr = *fl.MetricsAddr
	}
	if fl.DeliveryTimeoutSet || o.DeliveryTimeout == 0 {
		o.DeliveryTimeout = Duration(fl.DeliveryTimeout)
	}
	if o.Workers < 1 {
		return o, errs.Usagef("--workers: must be at least 1 (got %d)", o.Workers)
	}
	if o.BatchSize < 1 {
		return o, errs.Usagef("--batch-size: must be at least 1 (got %d)", o.BatchSize)
	}
	return o, nil
}

// ProducerFlags are `produce`'s flags over producers: and kafka:; ""
// and false mean not given.
type ProducerFlags struct {
	Backend     string // --backend kafka|outbox
	Partitioner string // --partitioner
	Normalize   bool   // --normalize
}

// ApplyProducerFlags lays produce's flags over c and returns the backend
// to produce with; an unknown backend is a usage error. (The partitioner's
// name is checked by the Kafka client, which knows them.)
func (c *Config) ApplyProducerFlags(fl ProducerFlags) (backend string, err error) {
	backend = c.Producers.Backend
	if fl.Backend != "" {
		backend = fl.Backend
	}
	if backend != "kafka" && backend != "outbox" {
		return "", errs.Usagef("--backend %q: use kafka or outbox", backend)
	}
	if fl.Partitioner != "" {
		c.Kafka.Partitioner = fl.Partitioner
	}
	c.ApplySchemaFlags(SchemaFlags{Normalize: fl.Normalize})
	return backend, nil
}

// SchemaFlags are schema flags several commands take (encode, produce,
// migrate gen-table); "" and false mean not given.
type SchemaFlags struct {
	Backend   string // --backend: the schema backend (gen-table)
	Normalize bool   // --normalize: register Avro in Parsing Canonical Form
}

// ApplySchemaFlags lays the schema flags over c's schema: settings and
// returns the schema backend to use (the flag's, else schema.backend).
func (c *Config) ApplySchemaFlags(fl SchemaFlags) (backend string) {
	if fl.Normalize {
		c.Schema.Normalize = true
	}
	if fl.Backend != "" {
		return fl.Backend
	}
	return c.Schema.Backend
}
