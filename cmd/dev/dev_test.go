package dev

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/deimos-cli/deimos/internal/cmdutil"
)

// TestDevServesKafkaAndRegistry runs the command on free ports, reads the
// printed addresses, and uses both servers for real.
func TestDevServesKafkaAndRegistry(t *testing.T) {
	pr, pw := io.Pipe()
	ios, _, _ := cmdutil.Test("")
	ios.Out = pw
	f := &cmdutil.Factory{IO: ios}
	c := NewCmd(f, nil)
	c.SetArgs([]string{"--kafka-port", "0", "--registry-port", "0", "--topic", "demo", "--partitions", "4", "--state-file", t.TempDir() + "/dev.env"})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.ExecuteContext(ctx) }()

	sc := bufio.NewScanner(pr)
	var broker, url string
	for sc.Scan() && (broker == "" || url == "") {
		fields := strings.Fields(sc.Text())
		if len(fields) == 2 && fields[0] == "kafka" {
			broker = fields[1]
		}
		if len(fields) == 2 && fields[0] == "registry" {
			url = fields[1]
		}
	}
	go io.Copy(io.Discard, pr)

	tctx, tcancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer tcancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(broker))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.ProduceSync(tctx, &kgo.Record{Topic: "demo", Value: []byte("hi")}).FirstErr(); err != nil {
		t.Fatalf("produce to dev broker: %v", err)
	}
	rc, err := sr.NewClient(sr.URLs(url))
	if err != nil {
		t.Fatal(err)
	}
	ss, err := rc.CreateSchema(tctx, "demo-value", sr.Schema{Schema: `{"type":"string"}`})
	if err != nil || ss.ID == 0 {
		t.Fatalf("register in dev registry: %v %+v", err, ss)
	}
	// A web page cannot drive it: a cross-origin "simple" POST, and a DNS
	// rebinding read (Host: the page's domain), are refused.
	for _, c := range []struct {
		method, host string
		hdr          map[string]string
	}{
		{"POST", "", map[string]string{"Origin": "http://evil.example", "Content-Type": "text/plain"}},
		{"POST", "", map[string]string{"Content-Type": "application/x-www-form-urlencoded"}},
		{"GET", "rebind.evil.example", nil},
	} {
		req, _ := http.NewRequest(c.method, url+"/subjects/page-value/versions", strings.NewReader(`{"schema":"\"int\""}`))
		if c.host != "" {
			req.Host = c.host
		}
		for k, v := range c.hdr {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 403 && resp.StatusCode != 415 {
			t.Errorf("%s %v: status %d, want a refusal", c.method, c.hdr, resp.StatusCode)
		}
	}
	if subs, err := rc.Subjects(tctx); err != nil || len(subs) != 1 {
		t.Fatalf("subjects after refused requests: %v %v", subs, err)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("dev returned %v after interrupt, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("dev did not stop after its context was cancelled")
	}
	pw.Close()
}

// TestDevRegistryEnforcesCompatibility: the dev registry rejects an
// incompatible new version under the default BACKWARD level, as Confluent does.
func TestDevRegistryEnforcesCompatibility(t *testing.T) {
	pr, pw := io.Pipe()
	ios, _, _ := cmdutil.Test("")
	ios.Out = pw
	c := NewCmd(&cmdutil.Factory{IO: ios}, nil)
	c.SetArgs([]string{"--kafka-port", "0", "--registry-port", "0", "--state-file", t.TempDir() + "/dev.env"})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = c.ExecuteContext(ctx) }()
	sc := bufio.NewScanner(pr)
	var url string
	for url == "" && sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) == 2 && f[0] == "registry" {
			url = f[1]
		}
	}
	go io.Copy(io.Discard, pr)
	rc, err := sr.NewClient(sr.URLs(url))
	if err != nil {
		t.Fatal(err)
	}
	tctx, tcancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer tcancel()
	v1 := `{"type":"record","name":"W","fields":[{"name":"a","type":"int"}]}`
	v2ok := `{"type":"record","name":"W","fields":[{"name":"a","type":"int"},{"name":"b","type":"string","default":""}]}`
	v3bad := `{"type":"record","name":"W","fields":[{"name":"a","type":"int"},{"name":"b","type":"string","default":""},{"name":"c","type":"string"}]}`
	for _, s := range []string{v1, v2ok} {
		if _, err := rc.CreateSchema(tctx, "w-value", sr.Schema{Schema: s}); err != nil {
			t.Fatalf("compatible registration refused: %v", err)
		}
	}
	if _, err := rc.CreateSchema(tctx, "w-value", sr.Schema{Schema: v3bad}); err == nil {
		t.Fatal("adding a field without a default must be refused under BACKWARD")
	}
	// JSON Schema subjects are checked with the JSON Schema rules: an
	// optional property added to a closed model is fine, a required one not
	j1 := `{"type":"object","properties":{"a":{"type":"integer"}},"additionalProperties":false}`
	j2 := `{"type":"object","properties":{"a":{"type":"integer"},"b":{"type":"string"}},"additionalProperties":false}`
	j3 := `{"type":"object","properties":{"a":{"type":"integer"},"b":{"type":"string"},"c":{"type":"string"}},"required":["c"],"additionalProperties":false}`
	for _, s := range []string{j1, j2} {
		if _, err := rc.CreateSchema(tctx, "j-value", sr.Schema{Schema: s, Type: sr.TypeJSON}); err != nil {
			t.Fatalf("compatible JSON Schema registration refused: %v", err)
		}
	}
	if _, err := rc.CreateSchema(tctx, "j-value", sr.Schema{Schema: j3, Type: sr.TypeJSON}); err == nil || !strings.Contains(err.Error(), "REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL") {
		t.Fatalf("a required JSON Schema property added must be refused under BACKWARD, got %v", err)
	}
}
