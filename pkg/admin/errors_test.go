package admin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/deimos-cli/deimos/pkg/errs"
)

func TestKafkaErrClassification(t *testing.T) {
	tests := []struct {
		name string
		err  error
		code int
		msg  []string
	}{
		{"topic ACL", &kadm.AuthError{Err: kerr.TopicAuthorizationFailed}, errs.CodeUsage,
			[]string{"TOPIC_AUTHORIZATION_FAILED", "the principal needs the ACL DELETE on topic orders"}},
		{"group ACL wrapped", fmt.Errorf("x: %w", kerr.GroupAuthorizationFailed), errs.CodeUsage, []string{"GROUP_AUTHORIZATION_FAILED"}},
		{"cluster ACL", kerr.ClusterAuthorizationFailed, errs.CodeUsage, []string{"CLUSTER_AUTHORIZATION_FAILED"}},
		{"SASL refused", kerr.SaslAuthenticationFailed, errs.CodeUsage, []string{"authentication failed", "kafka.sasl"}},
		{"refused connection", &net.OpError{Op: "dial", Err: errors.New("connection refused")}, errs.CodeUnavailable, []string{"broker unreachable"}},
		{"hang up", io.EOF, errs.CodeUnavailable, []string{"broker unreachable"}},
		{"timeout", context.DeadlineExceeded, errs.CodeUnavailable, []string{"no answer before the timeout"}},
		{"unknown topic", kerr.UnknownTopicOrPartition, errs.CodeFailed, []string{"UNKNOWN_TOPIC_OR_PARTITION"}},
		{"shard error", &kadm.ShardErrors{Name: "x", AllFailed: true, Errs: []kadm.ShardError{{Err: kerr.TopicAuthorizationFailed}}}, errs.CodeUsage, []string{"TOPIC_AUTHORIZATION_FAILED"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := kafkaErr(tt.err, "delete topic orders", ACL{"DELETE", "topic", "orders"})
			if got := errs.ExitCode(err); got != tt.code {
				t.Fatalf("exit %d, want %d (%v)", got, tt.code, err)
			}
			for _, m := range tt.msg {
				if !strings.Contains(err.Error(), m) {
					t.Fatalf("%q lacks %q", err, m)
				}
			}
		})
	}
	if err := kafkaErr(context.Canceled, "x"); !errors.Is(err, context.Canceled) || errs.ExitCode(err) != 0 {
		t.Fatalf("a cancellation stays a clean stop: %v", err)
	}
}

func TestRegistryErrClassification(t *testing.T) {
	tests := []struct {
		status, code int
		want         int
		msg          string
	}{
		{401, 401, errs.CodeUsage, "401 Unauthorized: the registry refused the credentials"},
		{403, 40301, errs.CodeUsage, "403 Forbidden: the credentials are not allowed"},
		{404, 40401, errs.CodeFailed, "404 Not Found"},
		{409, 409, errs.CodeFailed, "409 Conflict"},
		{422, 42201, errs.CodeUsage, "422 Unprocessable Entity"},
		{422, 42206, errs.CodeFailed, "422 Unprocessable Entity"},
		{503, 50003, errs.CodeUnavailable, "503"},
		{500, 50001, errs.CodeFailed, "500"},
	}
	for _, tt := range tests {
		err := registryErr(&sr.ResponseError{StatusCode: tt.status, ErrorCode: tt.code, Message: "boom"}, "register x")
		if got := errs.ExitCode(err); got != tt.want || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("%d: exit %d %q; want %d %q", tt.status, got, err, tt.want, tt.msg)
		}
		if tt.status == 404 && !IsNotFound(err) {
			t.Errorf("404 is not IsNotFound")
		}
	}
	if err := registryErr(&net.OpError{Op: "dial", Err: errors.New("refused")}, "x"); errs.ExitCode(err) != errs.CodeUnavailable {
		t.Fatalf("transport error: %v", err)
	}
}

func TestParseSeekTo(t *testing.T) {
	now := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want SeekTo
		bad  bool
	}{
		{"start", SeekTo{Kind: SeekStart}, false},
		{"beginning", SeekTo{Kind: SeekStart}, false},
		{"end", SeekTo{Kind: SeekEnd}, false},
		{"42", SeekTo{Kind: SeekOffset, Offset: 42}, false},
		{"-10", SeekTo{Kind: SeekLast, Offset: 10}, false},
		{"-1h", SeekTo{Kind: SeekTime, At: now.Add(-time.Hour)}, false},
		{"2024-04-30T00:00:00Z", SeekTo{Kind: SeekTime, At: time.Date(2024, 4, 30, 0, 0, 0, 0, time.UTC)}, false},
		{"@2024-04-30T00:00:00Z", SeekTo{Kind: SeekTime, At: time.Date(2024, 4, 30, 0, 0, 0, 0, time.UTC)}, false},
		{"@1714478400000", SeekTo{Kind: SeekTime, At: time.UnixMilli(1714478400000)}, false},
		{"stored", SeekTo{}, true},
		{"soon", SeekTo{}, true},
		{"", SeekTo{}, true},
	}
	for _, tt := range tests {
		got, err := ParseSeekTo(tt.in, now)
		if tt.bad {
			if err == nil || errs.ExitCode(err) != errs.CodeUsage {
				t.Errorf("%q: err %v, want a usage error", tt.in, err)
			}
			continue
		}
		if err != nil || got.Kind != tt.want.Kind || got.Offset != tt.want.Offset || !got.At.Equal(tt.want.At) {
			t.Errorf("%q = %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
	}
	for _, in := range []string{"1714478400000", "@1714478400000", "2024-04-30T12:00:00Z", "-2h"} {
		if _, err := ParseTime(in, now); err != nil {
			t.Errorf("ParseTime(%q): %v", in, err)
		}
	}
	if _, err := ParseTime("noon", now); errs.ExitCode(err) != errs.CodeUsage {
		t.Errorf("ParseTime(noon): %v", err)
	}
}

func TestParseSubjectVersionAndReference(t *testing.T) {
	for in, want := range map[string]struct {
		s string
		v int
	}{"a-value": {"a-value", -1}, "a-value@latest": {"a-value", -1}, "a-value@3": {"a-value", 3}, "x@y@2": {"x@y", 2}} {
		s, v, err := ParseSubjectVersion(in)
		if err != nil || s != want.s || v != want.v {
			t.Errorf("%q = %q %d %v", in, s, v, err)
		}
	}
	for _, bad := range []string{"@1", "a@0", "a@x"} {
		if _, _, err := ParseSubjectVersion(bad); errs.ExitCode(err) != errs.CodeUsage {
			t.Errorf("%q: %v", bad, err)
		}
	}
	r, err := ParseReference("com.acme.Address=address-value@2")
	if err != nil || r != (Reference{"com.acme.Address", "address-value", 2}) {
		t.Fatalf("%+v %v", r, err)
	}
	if r, _ := ParseReference("a.proto=a-value"); r.Version != -1 {
		t.Fatalf("no version means latest: %+v", r)
	}
	if _, err := ParseReference("address-value@2"); errs.ExitCode(err) != errs.CodeUsage {
		t.Fatalf("a reference without NAME=: %v", err)
	}
}
