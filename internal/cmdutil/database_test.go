package cmdutil

import (
	"context"
	"net"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deimos-cli/deimos/pkg/config"
	"github.com/deimos-cli/deimos/pkg/errs"
)

// Every command opens MySQL/MariaDB as it opens the other databases: a MySQL
// URL in either form is connected to (here nothing listens: exit 3, password
// hidden), no URL is a usage error, and a missing SQLite file is refused by
// OpenDB and created only by CreateDB.
func TestOpenDB(t *testing.T) {
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := l.Addr().String()
	l.Close()
	ctx := context.Background()
	for _, u := range []string{"mysql://app:s3cret@" + addr + "/shop?timeout=2s", "app:s3cret@tcp(" + addr + ")/shop?timeout=2s"} {
		cfg := &config.Config{}
		cfg.Database.URL = u
		if _, err := OpenDB(ctx, cfg); errs.ExitCode(err) != errs.CodeUnavailable || strings.Contains(err.Error(), "s3cret") {
			t.Errorf("OpenDB(%s) = %v (exit %d), want exit 3 from connecting", u, err, errs.ExitCode(err))
		}
		if _, err := CreateDB(ctx, cfg); errs.ExitCode(err) != errs.CodeUnavailable || strings.Contains(err.Error(), "s3cret") {
			t.Errorf("CreateDB(%s) = %v (exit %d), want exit 3 from connecting", u, err, errs.ExitCode(err))
		}
	}
	if _, err := OpenDB(ctx, &config.Config{}); errs.ExitCode(err) != errs.CodeUsage || !strings.Contains(err.Error(), "--db URL") {
		t.Errorf("OpenDB without a database = %v (exit %d), want a usage error naming --db", err, errs.ExitCode(err))
	}
	cfg := &config.Config{}
	cfg.Database.URL = "sqlite:" + filepath.Join(t.TempDir(), "new.db")
	if d, err := OpenDB(ctx, cfg); err == nil {
		d.Close()
		t.Error("OpenDB created a SQLite file that did not exist")
	}
	d, err := CreateDB(ctx, cfg)
	if err != nil {
		t.Fatalf("CreateDB: %v", err)
	}
	d.Close()
}
