package outbox

import (
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
)

// receiveBuffer is the socket receive buffer the relay asks for on the
// connections it fetches batches on (PostgreSQL): room for a whole batch
// of 1 KiB rows, so the server writes a batch's result without waiting
// for the relay to read (docs/outbox.md, Batch).
const receiveBuffer = 4 << 20

// minReceiveBuffer: below this (a low net.core.rmem_max), a fixed buffer
// would hold less than the kernel's own tuning may grow to; left alone.
const minReceiveBuffer = 1 << 20

// rmemMax is net.core.rmem_max, the largest receive buffer a process may
// set (0 when unknown: not Linux).
var rmemMax = sync.OnceValue(func() int {
	b, err := os.ReadFile("/proc/sys/net/core/rmem_max")
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return n
})

// receiveBufferFor is the receive buffer to set with rmem_max allowing
// max (0: leave the kernel's tuning alone).
func receiveBufferFor(max int) int {
	n := min(receiveBuffer, max)
	if n < minReceiveBuffer {
		return 0
	}
	return n
}

// WidenReceiveBuffer sets c's receive buffer to receiveBufferFor(rmem_max)
// (the TCP or Unix socket under TLS too); it reports the size set, 0 when
// it left the socket alone. The relay calls it on each connection it
// fetches on; scripts/bench/outbox's bare drain too.
func WidenReceiveBuffer(c net.Conn) int {
	n := receiveBufferFor(rmemMax())
	if n == 0 {
		return 0
	}
	if t, ok := c.(interface{ NetConn() net.Conn }); ok {
		c = t.NetConn()
	}
	b, ok := c.(interface{ SetReadBuffer(int) error })
	if !ok || b.SetReadBuffer(n) != nil {
		return 0
	}
	return n
}
