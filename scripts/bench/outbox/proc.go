package main

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// procStat reads a process's utime, stime, cutime and cstime (clock ticks)
// and its parent pid from /proc/PID/stat.
func procStat(pid int) (ticks [4]int64, ppid int, ok bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ticks, 0, false
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:]) // fields from 3 (state) on
	ppid, _ = strconv.Atoi(f[1])
	for i := range ticks {
		ticks[i], _ = strconv.ParseInt(f[11+i], 10, 64) // fields 14-17
	}
	return ticks, ppid, true
}

// clkTck is the kernel's USER_HZ, 100 on Linux.
const clkTck = 100

func ticksToDur(t int64) time.Duration { return time.Duration(t) * time.Second / clkTck }

// procCPU is the user+sys time of pid's threads.
func procCPU(pid int) time.Duration {
	t, _, _ := procStat(pid)
	return ticksToDur(t[0] + t[1])
}

// treeCPU is the user+sys time of pid, its reaped children, and its live
// children (PostgreSQL: the postmaster and one backend per connection).
func treeCPU(pid int) time.Duration {
	t, _, _ := procStat(pid)
	total := t[0] + t[1] + t[2] + t[3]
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		c, err := strconv.Atoi(e.Name())
		if err != nil || c == pid {
			continue
		}
		if ct, pp, ok := procStat(c); ok && pp == pid {
			total += ct[0] + ct[1]
		}
	}
	return ticksToDur(total)
}

// treeFaults is the minor page faults of pid, its reaped children and its
// live children (PostgreSQL: a backend faults in each shared buffer page it
// touches for the first time).
func treeFaults(pid int) int64 {
	f := func(p int) (own, reaped int64, ppid int, ok bool) {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p))
		if err != nil {
			return 0, 0, 0, false
		}
		s := string(b)
		x := strings.Fields(s[strings.LastIndexByte(s, ')')+2:]) // fields from 3 (state) on
		ppid, _ = strconv.Atoi(x[1])
		own, _ = strconv.ParseInt(x[7], 10, 64)    // field 10, minflt
		reaped, _ = strconv.ParseInt(x[8], 10, 64) // field 11, cminflt
		return own, reaped, ppid, true
	}
	own, reaped, _, _ := f(pid)
	total := own + reaped
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		c, err := strconv.Atoi(e.Name())
		if err != nil || c == pid {
			continue
		}
		if o, _, pp, ok := f(c); ok && pp == pid {
			total += o
		}
	}
	return total
}

// hwm is a process's peak RSS (VmHWM) in KiB.
func hwm(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb
		}
	}
	return 0
}

func selfCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// cpuBusy samples /proc/stat; the returned func gives the share of all
// cores' time that was busy since (everything on the machine, not just us).
func cpuBusy() func() string {
	read := func() (busy, total float64) {
		b, err := os.ReadFile("/proc/stat")
		if err != nil {
			return 0, 0
		}
		f := strings.Fields(strings.SplitN(string(b), "\n", 2)[0])
		for i, v := range f[1:] {
			x, _ := strconv.ParseFloat(v, 64)
			total += x
			if i != 3 && i != 4 { // idle, iowait
				busy += x
			}
		}
		return busy, total
	}
	b0, t0 := read()
	return func() string {
		b1, t1 := read()
		if t1 <= t0 {
			return "?"
		}
		return fmt.Sprintf("%.0f%% of %d cores", 100*(b1-b0)/(t1-t0), nproc())
	}
}

func nproc() int {
	b, _ := os.ReadFile("/proc/stat")
	n := 0
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "cpu") && len(l) > 3 && l[3] >= '0' && l[3] <= '9' {
			n++
		}
	}
	return n
}

// perM is CPU seconds per million messages (= µs per message).
func perM(cpu time.Duration, n int) float64 { return float64(cpu.Microseconds()) / float64(n) }

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// watchRSS polls pid's peak RSS (VmHWM of its own address space; rusage's
// maxrss can include the parent's memory at fork time) until the returned
// func is called, after the process has exited, which returns it in KiB.
func watchRSS(pid int) func() int64 {
	var peak int64
	done, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		for {
			if h := hwm(pid); h > peak {
				peak = h
			}
			select {
			case <-done:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	return func() int64 {
		close(done)
		<-stopped
		return peak
	}
}

// loadavg is /proc/loadavg's 1, 5 and 15 minute load averages (other
// work on the machine, for the record beside the figures).
func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}
