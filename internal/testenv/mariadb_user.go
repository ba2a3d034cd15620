package testenv

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"
)

// MariaDBUser creates a MariaDB user with the given password and every
// privilege on the database of dbURL (a URL from MariaDB), dropped when t
// ends, and returns dbURL for that user: for tests that need a password in
// the URL.
func MariaDBUser(t testing.TB, dbURL, password string) string {
	t.Helper()
	if mdbSrv == nil || !strings.HasPrefix(dbURL, "mysql://root@") {
		t.Fatalf("MariaDBUser needs a URL from testenv.MariaDB, got %q", dbURL)
	}
	name := dbURL[strings.LastIndexByte(dbURL, '/')+1:]
	user := "u_" + name
	ctx := context.Background()
	quoted := strings.ReplaceAll(password, `\`, `\\`)
	quoted = strings.ReplaceAll(quoted, `'`, `''`)
	for _, q := range []string{
		"CREATE USER '" + user + "'@'127.0.0.1' IDENTIFIED BY '" + quoted + "'",
		"GRANT ALL ON `" + name + "`.* TO '" + user + "'@'127.0.0.1'",
	} {
		if _, err := mdbSrv.admin.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", strings.Replace(q, quoted, "xxxxx", 1), err)
		}
	}
	t.Cleanup(func() { _, _ = mdbSrv.admin.ExecContext(ctx, "DROP USER '"+user+"'@'127.0.0.1'") })
	return fmt.Sprintf("mysql://%s@%s", url.UserPassword(user, password).String(), strings.TrimPrefix(dbURL, "mysql://root@"))
}
