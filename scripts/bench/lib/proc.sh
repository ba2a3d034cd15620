# Sourced by benchmarks: CPU time and peak memory of running processes from
# /proc, for processes a benchmark did not start under /usr/bin/time (the
# broker, the database server).
#
#   cpu_ticks PID...   user+sys clock ticks of each PID and of its children
#                      that have exited (cutime+cstime), summed
#   tree_ticks PID     cpu_ticks of PID and its live children (PostgreSQL:
#                      the postmaster, its backends and background workers)
#   ticks_s TICKS      ticks as seconds
#   hwm_kb PID         peak resident set size (VmHWM) in KiB

CLK_TCK=$(getconf CLK_TCK)

cpu_ticks() {
  local pid sum=0 t
  for pid in "$@"; do
    # fields after the ")" that ends the command name: 14-17 are utime stime cutime cstime
    t=$(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null | awk '{print $12+$13+$14+$15}') || t=0
    sum=$((sum + ${t:-0}))
  done
  echo "$sum"
}

tree_ticks() {
  # shellcheck disable=SC2046
  cpu_ticks "$1" $(ps -o pid= --ppid "$1")
}

ticks_s() { awk -v t="$1" -v hz="$CLK_TCK" 'BEGIN{printf "%.2f", t/hz}'; }

hwm_kb() { awk '/^VmHWM:/{print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
