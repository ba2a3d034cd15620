package testenv

import (
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"testing"
)

// KcatEnds asks kcat (librdkafka, an independent client) for the end offset
// (high watermark) of partitions 0..parts-1 of topic: -Q with timestamp -1.
func KcatEnds(t testing.TB, broker, topic string, parts int) map[int32]int64 {
	t.Helper()
	kcat, err := exec.LookPath("kcat")
	if err != nil {
		Missing(t, "kcat")
	}
	args := []string{"-b", broker, "-Q"}
	for p := 0; p < parts; p++ {
		args = append(args, "-t", fmt.Sprintf("%s:%d:-1", topic, p))
	}
	out, err := exec.Command(kcat, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("kcat -Q: %v\n%s", err, out)
	}
	re := regexp.MustCompile(regexp.QuoteMeta(topic) + ` \[(\d+)\] offset (\d+)`)
	ends := map[int32]int64{}
	for _, m := range re.FindAllStringSubmatch(string(out), -1) {
		p, _ := strconv.Atoi(m[1])
		o, _ := strconv.ParseInt(m[2], 10, 64)
		ends[int32(p)] = o
	}
	if len(ends) != parts {
		t.Fatalf("kcat -Q answered %v:\n%s", ends, out)
	}
	return ends
}
