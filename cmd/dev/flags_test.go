package dev

import (
	"context"
	"testing"
	"time"

	"github.com/deimos-cli/deimos/internal/cmdutil"
)

// dev's flags parse into its options without starting a broker.
func TestFlagsParse(t *testing.T) {
	var got *Options
	capture := func(_ context.Context, o *Options) error { got = o; return nil }
	if err := cmdutil.ExecuteForTest(NewCmd(cmdutil.TestFactory(), capture),
		"--host", "0.0.0.0", "--kafka-port", "0", "--registry-port", "18081", "--partitions", "6", "--topic", "a,b", "--topic", "c",
		"--no-registry", "--state-file", "/tmp/x.env"); err != nil {
		t.Fatal(err)
	}
	if got.host != "0.0.0.0" || got.kafkaPort != 0 || got.registryPort != 18081 || got.partitions != 6 || len(got.topics) != 3 ||
		!got.noRegistry || got.stateFile != "/tmp/x.env" || got.printEnv {
		t.Fatalf("options: %+v", got)
	}
	if err := cmdutil.ExecuteForTest(NewCmd(cmdutil.TestFactory(), capture), "--print-env", "--wait", "2s"); err != nil ||
		!got.printEnv || got.wait != 2*time.Second || got.kafkaPort != 9092 || got.registryPort != 8081 || got.host != "127.0.0.1" {
		t.Fatalf("print-env options: %+v %v", got, err)
	}
}
