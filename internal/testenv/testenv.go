// Package testenv starts the real components integration tests need: a kfake
// Kafka cluster, an srfake schema registry, a throwaway PostgreSQL server and
// SQLite files. Every integration test uses it; no test starts servers itself.
//
// Under CI (CI=true) a missing component fails the test instead of skipping it.
package testenv

import (
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/sr/srfake"
)

// InCI reports whether missing components must fail rather than skip.
func InCI() bool { return os.Getenv("CI") == "true" }

// Missing skips the test, or fails it under CI, because a component is absent.
func Missing(t testing.TB, what string) {
	t.Helper()
	if InCI() {
		t.Fatalf("%s is required under CI=true but is missing", what)
	}
	t.Skipf("%s is not available: skipping (install it, or run .ci/run)", what)
}

// Kafka starts an in-process kfake cluster on loopback and returns its
// bootstrap addresses. Topics listed are created with the given partitions;
// other topics are auto-created with 3 partitions.
func Kafka(t testing.TB, partitions int32, topics ...string) *kfake.Cluster {
	t.Helper()
	opts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.AllowAutoTopicCreation(),
		kfake.DefaultNumPartitions(3),
	}
	if len(topics) > 0 {
		opts = append(opts, kfake.SeedTopics(partitions, topics...))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatalf("kfake: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

// KafkaWith starts a kfake cluster on loopback with exactly these options
// (several brokers, SASL users, ACLs...).
func KafkaWith(t testing.TB, opts ...kfake.Opt) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatalf("kfake: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

// Brokers is Kafka(...).ListenAddrs() for the common case.
func Brokers(t testing.TB, partitions int32, topics ...string) []string {
	t.Helper()
	return Kafka(t, partitions, topics...).ListenAddrs()
}

// Registry starts an srfake schema registry and returns it (URL via .URL()).
func Registry(t testing.TB, opts ...srfake.Option) *srfake.Registry {
	t.Helper()
	r := srfake.New(opts...)
	t.Cleanup(r.Close)
	return r
}

var sqliteN atomic.Int64

// SQLiteURL returns a database URL for a fresh, empty SQLite file in a temp
// dir. The file exists (zero bytes, which SQLite reads as an empty
// database): only `migrate up` creates SQLite files, every other command
// and db.Open refuse a path that does not exist.
func SQLiteURL(t testing.TB) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), fmt.Sprintf("test%d.db", sqliteN.Add(1)))
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	return "sqlite:" + path
}
