// Package human formats values for people reading text output (tables,
// summaries); JSON output keeps exact numbers.
package human

import (
	"fmt"
	"time"
)

// Duration rounds d for people reading a table: the two largest units
// (45s, 12m5s, 3h12m, 2d4h; 1065d13h rather than 25573h27m32s). JSON output
// keeps exact seconds; this is for text only.
func Duration(d time.Duration) string {
	neg := ""
	if d < 0 {
		neg, d = "-", -d
	}
	d = roundFor(roundFor(d)) // 59m59.7s rounds to 60m, shown as 1h
	const day = 24 * time.Hour
	var s string
	switch {
	case d == 0:
		s = "0s"
	case d < time.Second:
		s = fmt.Sprintf("%dms", d.Round(time.Millisecond)/time.Millisecond)
	case d < time.Minute:
		s = fmt.Sprintf("%ds", d.Round(time.Second)/time.Second)
	case d < time.Hour:
		d = d.Round(time.Second)
		s = two(int64(d/time.Minute), "m", int64(d%time.Minute/time.Second), "s")
	case d < day:
		d = d.Round(time.Minute)
		s = two(int64(d/time.Hour), "h", int64(d%time.Hour/time.Minute), "m")
	default:
		d = d.Round(time.Hour)
		s = two(int64(d/day), "d", int64(d%day/time.Hour), "h")
	}
	return neg + s
}

// roundFor rounds d to the smaller of the two units Duration shows.
func roundFor(d time.Duration) time.Duration {
	switch {
	case d < time.Second:
		return d.Round(time.Millisecond)
	case d < time.Hour:
		return d.Round(time.Second)
	case d < 24*time.Hour:
		return d.Round(time.Minute)
	}
	return d.Round(time.Hour)
}

func two(a int64, ua string, b int64, ub string) string {
	if b == 0 {
		return fmt.Sprintf("%d%s", a, ua)
	}
	return fmt.Sprintf("%d%s%d%s", a, ua, b, ub)
}

// Seconds is Duration for a number of seconds.
func Seconds(sec float64) string {
	return Duration(time.Duration(sec * float64(time.Second)))
}
