package config

import "gopkg.in/yaml.v3"

// Outbox configures `outbox run` (docs/outbox.md, docs/deimos-compat.md §2).
type Outbox struct {
	Workers       int        `yaml:"workers"`
	BatchSize     int        `yaml:"batch_size"`
	CompactTopics TopicMatch `yaml:"compact_topics"` // a list of topic names, or "all"
	MetricsAddr   string     `yaml:"metrics_addr"`
	// DeliveryTimeout bounds one send attempt before it is retried with back-off (default 30s).
	DeliveryTimeout Duration `yaml:"delivery_timeout"`
	// MaxMessageBytes is the largest record the relay's producer sends
	// (default 1000012, the client's); larger rows are dead-lettered.
	MaxMessageBytes int `yaml:"max_message_bytes"`
	// Configured: the config file has an outbox: section (even an empty
	// one); `deimos start` runs the relay only then.
	Configured bool `yaml:"-"`
}

// TopicMatch is a list of topic names or the word "all".
type TopicMatch struct {
	All    bool
	Topics []string
}

// Match reports whether topic is selected.
func (m TopicMatch) Match(topic string) bool {
	if m.All {
		return true
	}
	for _, t := range m.Topics {
		if t == topic {
			return true
		}
	}
	return false
}

// ParseTopicMatch parses "all" or a comma-separated list.
func ParseTopicMatch(s string) TopicMatch {
	if s == "all" {
		return TopicMatch{All: true}
	}
	return TopicMatch{Topics: SplitList(s)}
}

// Poller configures one database poller (docs/poller.md, docs/deimos-compat.md §4).
type Poller struct {
	Name                   string            `yaml:"name"` // the deimos_poll_info.producer value
	Table                  string            `yaml:"table"`
	Topic                  string            `yaml:"topic"`
	Backend                string            `yaml:"backend"` // kafka (default) | outbox
	SchemaBackend          string            `yaml:"schema_backend"`
	Schema                 string            `yaml:"schema"`
	Namespace              string            `yaml:"namespace"`
	KeyConfig              *KeyConfig        `yaml:"key_config"`
	Mode                   string            `yaml:"mode"` // time_based (default) | state_based
	TimestampColumn        string            `yaml:"timestamp_column"`
	IDColumn               string            `yaml:"id_column"`
	RunEvery               Duration          `yaml:"run_every"`
	Delay                  Duration          `yaml:"delay"`
	DelaySet               bool              `yaml:"-"` // set when delay is given (so delay: 0 is kept)
	FullTable              bool              `yaml:"full_table"`
	StartFromBeginning     *bool             `yaml:"start_from_beginning"`
	BatchSize              int               `yaml:"batch_size"`
	Retries                *int              `yaml:"retries"` // absent = 1; null or -1 = infinite
	RetriesInfinite        bool              `yaml:"-"`       // set when retries: null
	SkipTooLarge           bool              `yaml:"skip_too_large"`
	Mapping                map[string]string `yaml:"mapping"` // column -> schema field
	Where                  string            `yaml:"where"`
	StateColumn            string            `yaml:"state_column"`
	PublishTimestampColumn string            `yaml:"publish_timestamp_column"`
	PublishedState         string            `yaml:"published_state"`
	FailedState            string            `yaml:"failed_state"`
	Deletions              *Deletions        `yaml:"deletions"`
	// LateCommitGuard (time-based, PostgreSQL and MySQL): all | writers | off;
	// the default is all on PostgreSQL, writers on MySQL (docs/poller.md).
	LateCommitGuard string `yaml:"late_commit_guard"`
}

// UnmarshalYAML tells `retries: null` (infinite, as in Deimos) apart from an
// absent key, and an explicit `delay: 0` apart from an absent delay (default 2s).
func (p *Poller) UnmarshalYAML(n *yaml.Node) error {
	type plain Poller
	if err := n.Decode((*plain)(p)); err != nil {
		return err
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == "retries" && n.Content[i+1].ShortTag() == "!!null" {
			p.RetriesInfinite = true
		}
		if n.Content[i].Value == "delay" && n.Content[i+1].ShortTag() != "!!null" {
			p.DelaySet = true
		}
	}
	return nil
}

// Deletions is a table or view of deleted keys, published as tombstones.
type Deletions struct {
	Table           string `yaml:"table"`
	KeyColumn       string `yaml:"key_column"`
	TimestampColumn string `yaml:"timestamp_column"`
	IDColumn        string `yaml:"id_column"`
}

// Consumer configures a database-backed consumer (docs/sinks.md, docs/events.md,
// docs/deimos-compat.md §7 and §8).
type Consumer struct {
	Name            string            `yaml:"name"`
	Topics          StringList        `yaml:"topics"`
	Group           string            `yaml:"group"`
	Sink            string            `yaml:"sink"` // table:NAME
	Mapping         map[string]string `yaml:"mapping"`
	KeyColumns      StringList        `yaml:"key_columns"`
	Compacted       *bool             `yaml:"compacted"`
	SkipBadRows     bool              `yaml:"skip_bad_rows"`
	Exec            string            `yaml:"exec"`
	SkipExitCode    *int              `yaml:"skip_exit_code"`
	Checkpoint      bool              `yaml:"checkpoint"`
	MaxRetries      *int              `yaml:"max_retries"`
	PassEnv         StringList        `yaml:"pass_env"` // more variables the exec handler inherits (NAME or PREFIX*)
	EntityIDField   string            `yaml:"entity_id_field"`
	EventTimeField  string            `yaml:"event_time_field"`
	EventTypeField  string            `yaml:"event_type_field"`
	EventVersionFld string            `yaml:"event_version_field"`
}
