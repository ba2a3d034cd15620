package human

import (
	"testing"
	"time"
)

func TestDuration(t *testing.T) {
	for _, tt := range []struct {
		d    time.Duration
		want string
	}{
		{0, "0s"},
		{350 * time.Millisecond, "350ms"},
		{45*time.Second + 400*time.Millisecond, "45s"},
		{12*time.Minute + 5*time.Second, "12m5s"},
		{59*time.Minute + 59*time.Second + 700*time.Millisecond, "1h"},
		{3*time.Hour + 12*time.Minute + 40*time.Second, "3h13m"},
		{2*24*time.Hour + 4*time.Hour + 10*time.Minute, "2d4h"},
		{25573*time.Hour + 27*time.Minute + 32*time.Second, "1065d13h"},
		{-90 * time.Second, "-1m30s"},
	} {
		if got := Duration(tt.d); got != tt.want {
			t.Errorf("Duration(%s) = %q, want %q", tt.d, got, tt.want)
		}
	}
}
