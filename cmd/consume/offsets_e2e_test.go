package consume

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/deimos-cli/deimos/internal/testenv"
)

// Offsets as kcat and rpk users type them, through the binary: one
// partition holding offsets 0..9 stamped 10:00, 10:01 ... 10:09 on
// 2024-05-01 (UTC).
func TestConsumeOffsetWordsThroughBinary(t *testing.T) {
	brokers := testenv.Brokers(t, 1, "ts")
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	base := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	ms := func(min int) string { return fmt.Sprint(base.Add(time.Duration(min) * time.Minute).UnixMilli()) }
	for i := 0; i < 10; i++ {
		r := &kgo.Record{Topic: "ts", Value: []byte(fmt.Sprintf(`{"i":%d}`, i)), Timestamp: base.Add(time.Duration(i) * time.Minute)}
		if err := cl.ProduceSync(context.Background(), r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	env := []string{"DEIMOS_BROKERS=" + strings.Join(brokers, ",")}
	tests := []struct {
		name      string
		args      []string
		from, end int // offsets printed: [from, end)
	}{
		{"kcat s@ and e@", []string{"-o", "s@" + ms(3), "-o", "e@" + ms(6)}, 3, 6},
		{"kcat e@ alone starts at the beginning", []string{"-o", "e@" + ms(2)}, 0, 2},
		{"kcat -N", []string{"-o", "-4"}, 6, 10},
		{"kcat OFFSET", []string{"-o", "7"}, 7, 10},
		{"kcat beginning", []string{"-o", "beginning"}, 0, 10},
		{"rpk start", []string{"-o", "start"}, 0, 10},
		{"rpk oldest", []string{"-o", "oldest"}, 0, 10},
		{"rpk newest", []string{"-o", "newest"}, 10, 10},
		{"rpk +N", []string{"-o", "+8"}, 8, 10},
		{"rpk @millis", []string{"-o", "@" + ms(5)}, 5, 10},
		{"rpk @seconds", []string{"-o", "@" + fmt.Sprint(base.Add(9*time.Minute).Unix())}, 9, 10},
		{"rpk @RFC3339", []string{"-o", "@2024-05-01T10:04:30Z"}, 5, 10},
		{"rpk @date", []string{"-o", "@2024-05-01", "--until", "@2024-05-01T10:02:00Z"}, 0, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"consume", "-t", "ts", "-e", "-q"}, tt.args...)
			out := testenv.Run(t, "", env, "", args...).OK(t, strings.Join(args, " "))
			var got []int
			for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
				if l == "" {
					continue
				}
				var e struct{ Offset int }
				if err := json.Unmarshal([]byte(l), &e); err != nil {
					t.Fatalf("%s: %v", l, err)
				}
				got = append(got, e.Offset)
			}
			var want []int
			for i := tt.from; i < tt.end; i++ {
				want = append(want, i)
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("offsets %v, want %v", got, want)
			}
		})
	}
	for _, bad := range [][]string{{"-o", "10:20"}, {"-o", "end", "-o", "-3"}, {"-o", "e@" + ms(1), "--until", "5"}} {
		r := testenv.Run(t, "", env, "", append([]string{"consume", "-t", "ts", "-e"}, bad...)...)
		if r.Code != 2 || !strings.Contains(r.Stderr, "-o") {
			t.Errorf("%q: exit %d %s; want a usage error", bad, r.Code, r.Stderr)
		}
	}
}
