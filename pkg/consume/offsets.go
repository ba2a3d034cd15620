package consume

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/deimos-cli/deimos/pkg/envelope"
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
	OffsetFromStart                   // "+N" (rpk): N records after the log start
)

// Offset is a parsed -o value.
type Offset struct {
	Kind OffsetKind
	N    int64     // OffsetExact: the offset; OffsetLast: N
	At   time.Time // OffsetTime
}

// ParseOffset parses one -o value: kcat's words beginning, end, stored,
// OFFSET, -N (last N per partition) and s@MILLIS; rpk's start/oldest,
// end/newest, +N (N after the log start), @MILLIS, @SECONDS (10 digits),
// @YYYY-MM-DD, @RFC3339 and @-DURATION; and -DURATION such as -1h (now minus
// the duration). kcat's e@MILLIS is a stop bound: see ParseOffsets.
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
	if rest, ok := strings.CutPrefix(s, "s@"); ok {
		s = "@" + rest // kcat: start at a timestamp
	}
	if strings.HasPrefix(s, "@") {
		t, err := envelope.ParseTime(s[1:], now)
		if err != nil {
			return Offset{}, fmt.Errorf("offset %q: %w", s, err)
		}
		return Offset{Kind: OffsetTime, At: t}, nil
	}
	if rest, ok := strings.CutPrefix(s, "+"); ok {
		if n, err := strconv.ParseInt(rest, 10, 64); err == nil && n >= 0 {
			return Offset{Kind: OffsetFromStart, N: n}, nil
		}
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
	return Offset{}, fmt.Errorf("offset %q: %s", s, offsetWords)
}

const offsetWords = "use beginning, end, stored, OFFSET, -N (last N), +N, s@MILLIS, e@MILLIS, @RFC3339, @MILLIS or -DURATION (e.g. -1h); see docs/flags.md"

// ParseOffsets parses every -o value given, as kcat does: at most one start
// (any ParseOffset form) and at most one e@TIME, the stop bound (exclusive)
// that --until also sets. No value means the beginning.
func ParseOffsets(vals []string, now time.Time) (Offset, *Bound, error) {
	var start *Offset
	var stop *Bound
	for _, v := range vals {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(v), "e@"); ok {
			if stop != nil {
				return Offset{}, nil, fmt.Errorf("offset %q: only one e@ end", v)
			}
			t, err := envelope.ParseTime(rest, now)
			if err != nil {
				return Offset{}, nil, fmt.Errorf("offset %q: %w", v, err)
			}
			stop = &Bound{Offset: -1, At: t}
			continue
		}
		if start != nil {
			return Offset{}, nil, fmt.Errorf("offset %q: only one start (and one e@ end) may be given", v)
		}
		o, err := ParseOffset(v, now)
		if err != nil {
			return Offset{}, nil, err
		}
		start = &o
	}
	if start == nil {
		return Offset{Kind: OffsetBeginning}, stop, nil
	}
	return *start, stop, nil
}

// Bound is a stop bound (--until): consumption of a partition stops before
// the first record at or after Offset, or at or after At.
type Bound struct {
	Offset int64 // -1 when At is used
	At     time.Time
}

// ParseUntil parses --until: @RFC3339 / @UNIXMILLIS or an absolute OFFSET (exclusive).
func ParseUntil(s string, now time.Time) (*Bound, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	if strings.HasPrefix(s, "@") {
		t, err := envelope.ParseTime(s[1:], now)
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
	case OffsetFromStart:
		s = logStart + o.N
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
