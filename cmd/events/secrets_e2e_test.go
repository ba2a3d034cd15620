package events_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/deimos-cli/deimos/internal/testenv"
)

// TestTableCommandsPrintNoMySQLPassword: the table commands connect to a
// real MariaDB as a user whose password holds URL and DSN syntax (@ : / ?
// #), given in the URL form (percent-encoded) and in the driver's DSN
// form, by flag and by DEIMOS_DB, with debug logs; each gets as far as the
// database (its tables are missing) and fails with exit 2 naming them,
// and no output holds the password.
func TestTableCommandsPrintNoMySQLPassword(t *testing.T) {
	const secret = "p@ss:w/rd?#Zq9SECRET"
	brokers := testenv.Brokers(t, 1, "orders")
	produce(t, brokers, "orders", "o1", `{"n":1}`)
	u := testenv.MariaDBUser(t, testenv.MariaDB(t), secret)
	pu, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	// user:password@tcp(host:port)/db: the DSN form takes the password as is
	dsn := pu.User.Username() + ":" + secret + "@tcp(" + pu.Host + ")" + pu.Path
	b := strings.Join(brokers, ",")
	cmds := [][]string{
		{"events", "list"},
		{"events", "show", "1"},
		{"events", "retry", "1", "--exec", "true"},
		{"events", "delete", "1"},
		{"events", "serve", "--addr", "127.0.0.1:0"},
		{"-b", b, "consume", "-t", "orders", "-e", "--sink", "table:nope"},
		{"-b", b, "consume", "-t", "orders", "-e", "-g", "g", "--exec", "true", "--checkpoint"},
	}
	dir := t.TempDir()
	for _, form := range []string{u, dsn} {
		for _, viaEnv := range []bool{false, true} {
			for _, c := range cmds {
				args := append([]string{"--log-level", "debug"}, c...)
				var env []string
				if viaEnv {
					env = []string{"DEIMOS_DB=" + form}
				} else {
					args = append([]string{"--db", form}, args...)
				}
				r := runEnv(t, dir, env, args...)
				all := r.out + r.err
				if strings.Contains(all, "Zq9SECRET") || strings.Contains(all, url.QueryEscape(secret)) {
					t.Fatalf("deimos %v printed the password:\n%s", c, all)
				}
				if r.code != 2 || !strings.Contains(all, "does not exist") {
					t.Fatalf("deimos %v (env %v): exit %d, want 2 naming the missing table:\n%s", c, viaEnv, r.code, all)
				}
			}
		}
	}
}
