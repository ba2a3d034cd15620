package cmdutil

import (
	"context"
	"net"
	"strings"
	"testing"

	"github.com/deimos-cli/deimos/pkg/config"
	"github.com/deimos-cli/deimos/pkg/errs"
)

// Commands not yet proven on MySQL refuse a MySQL database in either form
// (exit 2, password hidden) before connecting; OpenDBWithMySQL connects.
func TestOpenDBMySQLGate(t *testing.T) {
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := l.Addr().String()
	l.Close()
	ctx := context.Background()
	for _, u := range []string{"mysql://app:s3cret@" + addr + "/shop?timeout=2s", "app:s3cret@tcp(" + addr + ")/shop?timeout=2s"} {
		cfg := &config.Config{}
		cfg.Database.URL = u
		if _, err := OpenDB(ctx, cfg); errs.ExitCode(err) != errs.CodeUsage || !strings.Contains(err.Error(), "does not run on MySQL/MariaDB yet") || strings.Contains(err.Error(), "s3cret") {
			t.Errorf("OpenDB(%s) = %v (exit %d)", u, err, errs.ExitCode(err))
		}
		if _, err := OpenDBWithMySQL(ctx, cfg); errs.ExitCode(err) != errs.CodeUnavailable || strings.Contains(err.Error(), "s3cret") {
			t.Errorf("OpenDBWithMySQL(%s) = %v (exit %d), want exit 3 from connecting", u, err, errs.ExitCode(err))
		}
		if _, err := CreateDB(ctx, cfg); errs.ExitCode(err) != errs.CodeUnavailable || strings.Contains(err.Error(), "s3cret") {
			t.Errorf("CreateDB(%s) = %v (exit %d), want exit 3 from connecting", u, err, errs.ExitCode(err))
		}
	}
}
