package consume

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// OffsetKind says where consumption starts.
type OffsetKind int

// Offset kinds, in kcat's words.
const (
	OffsetBeginning OffsetKind = iota // "beginning"
	OffsetEnd                         // "end"
	OffsetStored                      // "stored": the group's committed offset (needs a group)
	OffsetExact                       // "OFFSET": an absolute offset
	OffsetLast                        // "-N": the last N records of each partition
	OffsetTime                        // "@RFC3339", "@millis" or "-DURATION": first record at/after a time
)

// Offset is a parsed -o value.
type Offset struct {
	Kind OffsetKind
	N    int64     // OffsetExact: the offset; OffsetLast: N
	At   time.Time // OffsetTime
}

// ParseOffset parses kcat's -o words: beginning, end, stored, OFFSET, -N
// (last N per partition), @RFC3339 / @UNIXMILLIS (first record at or after
// that time) and -DURATION such as -1h or -90m (now minus the duration).
func ParseOffset(s string, now time.Time) (Offset, error) {
	s = strings.TrimSpace(s)
	switch strings.ToLower(s) {
	case "", "beginning", "start", "earliest", "oldest":
		return Offset{Kind: OffsetBeginning}, nil
	case "end", "latest", "newest":
		return Offset{Kind: OffsetEnd}, nil
	case "stored", "committed":
		return Offset{Kind: OffsetStored}, nil
	}
	if strings.HasPrefix(s, "@") {
		t, err := parseTime(s[1:])
		if err != nil {
			return Offset{}, fmt.Errorf("offset %q: %w", s, err)
		}
		return Offset{Kind: OffsetTime, At: t}, nil
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n < 0 {
			return Offset{Kind: OffsetLast, N: -n}, nil
		}
		return Offset{Kind: OffsetExact, N: n}, nil
	}
	if strings.HasPrefix(s, "-") {
		if d, err := time.ParseDuration(s[1:]); err == nil && d > 0 {
			return Offset{Kind: OffsetTime, At: now.Add(-d)}, nil
		}
	}
	return Offset{}, fmt.Errorf("offset %q: use beginning, end, stored, OFFSET, -N (last N), @RFC3339 or -DURATION (e.g. -1h)", s)
}

func parseTime(s string) (time.Time, error) {
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.UnixMilli(ms), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("not an RFC3339 time or unix milliseconds")
}

// Bound is a stop bound (--until): consumption of a partition stops before
// the first record at or after Offset, or at or after At.
type Bound struct {
	Offset int64 // -1 when At is used
	At     time.Time
}

// ParseUntil parses --until: @RFC3339 / @UNIXMILLIS or an absolute OFFSET (exclusive).
func ParseUntil(s string) (*Bound, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	if strings.HasPrefix(s, "@") {
		t, err := parseTime(s[1:])
		if err != nil {
			return nil, fmt.Errorf("--until %q: %w", s, err)
		}
		return &Bound{Offset: -1, At: t}, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return nil, fmt.Errorf("--until %q: use @RFC3339 or an offset", s)
	}
	return &Bound{Offset: n}, nil
}

// startOffset computes where one partition starts, given its log start and
// end, and the offset found for a time (-1 when none was asked for).
func startOffset(o Offset, logStart, logEnd, atTime int64) int64 {
	var s int64
	switch o.Kind {
	case OffsetBeginning:
		s = logStart
	case OffsetEnd:
		s = logEnd
	case OffsetExact:
		s = o.N
	case OffsetLast:
		s = logEnd - o.N
	case OffsetTime:
		s = atTime
		if s < 0 {
			s = logEnd
		}
	default:
		s = logStart
	}
	if s < logStart {
		s = logStart
	}
	if s > logEnd {
		s = logEnd
	}
	return s
}
