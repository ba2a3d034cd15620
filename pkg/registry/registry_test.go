package registry

import (
	"context"
	"encoding/base64"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/deimos-cli/deimos/pkg/config"
	"github.com/deimos-cli/deimos/pkg/errs"
)

func subjects(t *testing.T, r config.Registry) error {
	t.Helper()
	cl, err := New(r)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err = cl.Subjects(ctx)
	return err
}

func TestAuthAgainstSrfake(t *testing.T) {
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("alice:s3cret"))
	regBasic := srfake.New(srfake.WithAuth(basic))
	defer regBasic.Close()
	regBearer := srfake.New(srfake.WithAuth("Bearer tok-123"))
	defer regBearer.Close()

	u, _ := url.Parse(regBasic.URL())
	u.User = url.UserPassword("alice", "s3cret")
	tests := []struct {
		name string
		r    config.Registry
		ok   bool
	}{
		{"basic auth", config.Registry{URL: regBasic.URL(), Username: "alice", Password: "s3cret"}, true},
		{"basic auth wrong", config.Registry{URL: regBasic.URL(), Username: "alice", Password: "nope"}, false},
		{"credentials in URL", config.Registry{URL: u.String()}, true},
		{"no auth", config.Registry{URL: regBasic.URL()}, false},
		{"bearer", config.Registry{URL: regBearer.URL(), Token: "tok-123"}, true},
		{"bearer wrong", config.Registry{URL: regBearer.URL(), Token: "tok-999"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := subjects(t, tt.r)
			if (err == nil) != tt.ok {
				t.Fatalf("err = %v, want ok=%v", err, tt.ok)
			}
			if err != nil && (strings.Contains(err.Error(), "s3cret") || strings.Contains(err.Error(), "tok-")) {
				t.Fatalf("error leaks a secret: %v", err)
			}
		})
	}
}

func TestNewAndRedact(t *testing.T) {
	if cl, err := New(config.Registry{}); cl != nil || err != nil {
		t.Fatal("no URL means no client and no error")
	}
	_, err := New(config.Registry{URL: "not a url"})
	if errs.ExitCode(err) != errs.CodeUsage {
		t.Fatalf("bad URL: %v", err)
	}
	_, err = New(config.Registry{URL: "https://bob:pw@"})
	if err == nil || strings.Contains(err.Error(), "pw") {
		t.Fatalf("bad URL error must not leak the password: %v", err)
	}
}

// Credentials in the URL must never reach an error message: the client is
// given the URL without them.
func TestURLCredentialsNotInErrors(t *testing.T) {
	cl, err := New(config.Registry{URL: "http://bob:s3cret@127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	_, err = cl.Subjects(ctx)
	if err == nil || strings.Contains(err.Error(), "s3cret") || strings.Contains(err.Error(), "bob") {
		t.Fatalf("err = %v", err)
	}
}
