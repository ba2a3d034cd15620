package admin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/deimos-cli/deimos/pkg/errs"
)

// ACL names a Kafka permission a request needs: operation on a resource,
// as an administrator writes it in kafka-acls (e.g. DESCRIBE on topic
// orders). Authorization errors quote it so the fix is plain.
type ACL struct {
	Operation string // DESCRIBE, READ, CREATE, DELETE, DESCRIBE_CONFIGS...
	Resource  string // topic, group, cluster
	Name      string // the topic or group; empty for the cluster
}

func (a ACL) String() string {
	if a.Name == "" {
		return a.Operation + " on the " + a.Resource
	}
	return fmt.Sprintf("%s on %s %s", a.Operation, a.Resource, a.Name)
}

func acls(need []ACL) string {
	s := make([]string, len(need))
	for i, a := range need {
		s[i] = a.String()
	}
	return strings.Join(s, " and ")
}

// kafkaErr gives an error from a Kafka request made to do what its exit
// code and one clear message:
//   - a refused authorization (an ACL) is exit 2 and names the ACL needed;
//   - a failed SASL login is exit 2 and names the settings to check;
//   - a broker that cannot be reached or does not answer in time is exit 3;
//   - anything the broker answered with (unknown topic, ...) is exit 1.
func kafkaErr(err error, what string, need ...ACL) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) {
		return err
	}
	var se *kadm.ShardErrors
	if errors.As(err, &se) && len(se.Errs) > 0 {
		err = se.Errs[0].Err
	}
	var ke *kerr.Error
	switch {
	case errors.Is(err, kerr.TopicAuthorizationFailed), errors.Is(err, kerr.GroupAuthorizationFailed),
		errors.Is(err, kerr.ClusterAuthorizationFailed), errors.Is(err, kerr.TransactionalIDAuthorizationFailed):
		msg := fmt.Sprintf("kafka: %s: not authorized (%v)", what, errName(err))
		if len(need) > 0 {
			msg += ": the principal needs the ACL " + acls(need)
		}
		return errs.Usage(errors.New(msg))
	case errors.Is(err, kerr.SaslAuthenticationFailed), errors.Is(err, kerr.UnsupportedSaslMechanism), errors.Is(err, kerr.IllegalSaslState):
		return errs.Usagef("kafka: authentication failed (%v): check kafka.sasl mechanism, username and password", errName(err))
	case errors.Is(err, context.DeadlineExceeded):
		return errs.Unavailablef("kafka: %s: no answer before the timeout (--timeout)", what)
	case unreachable(err):
		return errs.Unavailablef("kafka: %s: broker unreachable: %w", what, err)
	case errors.As(err, &ke):
		return errs.Failedf("kafka: %s: %s (%s)", what, ke.Message, strings.TrimSuffix(ke.Description, "."))
	}
	return errs.Failedf("kafka: %s: %w", what, err)
}

func errName(err error) string {
	var ke *kerr.Error
	if errors.As(err, &ke) {
		return ke.Message
	}
	return err.Error()
}

// unreachable reports transport failures: nothing answered.
func unreachable(err error) bool {
	var ne net.Error
	var oe *net.OpError
	return errors.As(err, &oe) || errors.As(err, &ne) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, kgo.ErrClientClosed)
}

// registryErr gives an error from a schema registry request made to do
// what its exit code and one clear message:
//   - 401 and 403 are exit 2 and say which credentials or rights to check;
//   - an unreachable registry, or a gateway in front of it that says so
//     (502, 503, 504), is exit 3;
//   - a schema the registry rejects as invalid (422) is exit 2 (bad input),
//     except 42206 (a delete of a schema others reference), a refusal: exit 1;
//   - other answers (404 not found, 409 incompatible, ...) are exit 1.
//
// Registry URLs reach the client without credentials (pkg/registry moves
// them to basic auth), so quoting the request does not leak them.
func registryErr(err error, what string) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) {
		return err
	}
	var re *sr.ResponseError
	if !errors.As(err, &re) {
		if errors.Is(err, context.DeadlineExceeded) {
			return errs.Unavailablef("schema registry: %s: no answer before the timeout (--timeout)", what)
		}
		return errs.Unavailablef("schema registry unreachable: %s: %w", what, err)
	}
	msg := strings.TrimSpace(re.Message)
	if msg == "" {
		msg = strings.TrimSpace(string(re.Raw))
	}
	if len(msg) > 300 {
		msg = msg[:300] + "..."
	}
	status := fmt.Sprintf("%d %s", re.StatusCode, http.StatusText(re.StatusCode))
	switch {
	case re.StatusCode == http.StatusUnauthorized:
		return errs.Usagef("schema registry: %s: %s: the registry refused the credentials (check schema.registry.username/password or token)", what, status)
	case re.StatusCode == http.StatusForbidden:
		return errs.Usagef("schema registry: %s: %s: the credentials are not allowed to do this (ask for the registry role or ACL that grants it)", what, status)
	case re.StatusCode == http.StatusBadGateway || re.StatusCode == http.StatusServiceUnavailable || re.StatusCode == http.StatusGatewayTimeout:
		return errs.Unavailablef("schema registry unreachable: %s: %s", what, status)
	case re.StatusCode == http.StatusUnprocessableEntity && re.ErrorCode != errReferenceExists:
		return errs.Usagef("schema registry: %s: %s: %s", what, status, msg)
	}
	return &RegistryError{Status: re.StatusCode, Code: re.ErrorCode, Err: errs.Failedf("schema registry: %s: %s: %s", what, status, msg)}
}

// errReferenceExists is Confluent's error code for deleting a schema that
// other schemas still reference.
const errReferenceExists = 42206

// RegistryError is an answer of the registry other than success, kept
// with its HTTP status and Confluent error code for callers that branch on
// them (a 404 subject, a 409 incompatible schema).
type RegistryError struct {
	Status int // HTTP status
	Code   int // Confluent error_code (40401 subject not found, 409 incompatible...)
	Err    error
}

func (e *RegistryError) Error() string { return e.Err.Error() }
func (e *RegistryError) Unwrap() error { return e.Err }

// IsNotFound reports a registry 404 (subject, version or schema not found).
func IsNotFound(err error) bool {
	var re *RegistryError
	return errors.As(err, &re) && re.Status == http.StatusNotFound
}
