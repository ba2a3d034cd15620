package testenv

import (
	"context"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/deimos-cli/deimos/pkg/db"
)

// TestMariaDB: each call is a fresh, empty database on one server that runs
// as a non-root user; a database is dropped at the end of its test even
// when a transaction on it was left open.
func TestMariaDB(t *testing.T) {
	ctx := context.Background()
	var first string
	t.Run("leaks a transaction", func(t *testing.T) {
		first = MariaDB(t)
		d, err := db.Open(ctx, first)
		if err != nil {
			t.Fatal(err)
		}
		// not closed, on purpose: the drop must end this session
		tx, err := d.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec("CREATE TABLE x (id int PRIMARY KEY) ENGINE=InnoDB"); err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec("INSERT INTO x VALUES (1)"); err != nil {
			t.Fatal(err)
		}
	})
	second := MariaDB(t)
	if second == first {
		t.Fatalf("the same database twice: %s", second)
	}
	d, err := db.Open(ctx, second)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if ok, err := d.TableExists(ctx, "x"); err != nil || ok {
		t.Fatalf("a new database has a table: %v %v", ok, err)
	}
	var dbs int
	name := first[strings.LastIndexByte(first, '/')+1:]
	if err := d.QueryRow("SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = ?", name).Scan(&dbs); err != nil || dbs != 0 {
		t.Fatalf("database %s still there after its test (%d, %v)", name, dbs, err)
	}
	var mode string
	if err := d.QueryRow("SELECT @@GLOBAL.sql_mode").Scan(&mode); err != nil || mode != MariaDBSQLMode {
		t.Fatalf("sql_mode %q, want %q (%v)", mode, MariaDBSQLMode, err)
	}
	var zone string
	if err := d.QueryRow("SELECT @@system_time_zone").Scan(&zone); err != nil || (zone != "EST" && zone != "EDT") {
		t.Fatalf("system time zone %q, want US Eastern (%s) (%v)", zone, MariaDBSystemTZ, err)
	}
	if os.Geteuid() == 0 {
		st, err := os.ReadFile("/proc/" + strconv.Itoa(mdbSrv.cmd.Process.Pid) + "/status")
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(string(st), "\n") {
			if strings.HasPrefix(l, "Uid:") && strings.Fields(l)[1] == "0" {
				t.Fatalf("mariadbd runs as root: %s", l)
			}
		}
	}
	admin, err := db.Open(ctx, MariaDBAdminURL())
	if err != nil {
		t.Fatalf("admin URL: %v", err)
	}
	admin.Close()
}

// Under CI=true a missing MariaDB fails the test (it never skips); without
// CI it skips. Run in a child test process whose MARIADB_BIN names an
// empty directory.
func TestMariaDBMissing(t *testing.T) {
	if os.Getenv("TESTENV_MARIADB_CHILD") == "1" {
		MariaDB(t)
		t.Fatal("MariaDB returned without a server")
	}
	for _, ci := range []string{"true", ""} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestMariaDBMissing$", "-test.v", "-test.count=1")
		cmd.Env = append(os.Environ(), "TESTENV_MARIADB_CHILD=1", "MARIADB_BIN="+t.TempDir(), "CI="+ci)
		out, err := cmd.CombinedOutput()
		switch {
		case ci == "true" && (err == nil || !strings.Contains(string(out), "MariaDB (mariadb-install-db not found (apt-get install mariadb-server)) is required under CI=true but is missing")):
			t.Fatalf("CI=true: %v\n%s", err, out)
		case ci == "" && (err != nil || !strings.Contains(string(out), "--- SKIP")):
			t.Fatalf("without CI: %v\n%s", err, out)
		}
	}
}
