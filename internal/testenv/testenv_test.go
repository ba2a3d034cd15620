package testenv

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/deimos-cli/deimos/pkg/db"
)

func TestMain(m *testing.M) { Main(m) }

func TestComponents(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	brokers := Brokers(t, 2, "t1")
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "t1", Value: []byte("x")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	for _, dl := range Dialects(t) {
		u := dl.URL(t)
		d, err := db.Open(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := d.ExecContext(ctx, "CREATE TABLE x (id integer)"); err != nil {
			t.Fatal(err)
		}
		if d.Dialect.Name() != dl.Name {
			t.Fatalf("%s URL opens as %s", dl.Name, d.Dialect.Name())
		}
		if ok, err := d.TableExists(ctx, "x"); err != nil || !ok {
			t.Fatalf("%s: table exists = %v %v", d.Dialect.Name(), ok, err)
		}
		d.Close()
	}
	if Registry(t).URL() == "" {
		t.Fatal("registry has no URL")
	}
}
