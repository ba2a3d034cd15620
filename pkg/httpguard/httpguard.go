// Package httpguard keeps web pages from using a local HTTP API that a
// developer runs (deimos events serve). A browser lets any page send requests
// to 127.0.0.1, and DNS rebinding lets a page read the answers; so:
//
//   - a request whose Host is not a name or address of this server is
//     refused (a rebinding page's Host is its own domain name);
//   - a state-changing request (anything but GET, HEAD, OPTIONS) that a
//     browser marks as cross-origin (Origin not this server, Sec-Fetch-Site
//     not same-origin/none) is refused;
//   - a state-changing request with a body type other than JSON is refused,
//     so a "simple" cross-origin request (form or text/plain POST, sent by
//     browsers without a CORS preflight) cannot get through either.
//
// Clients that are not browsers (curl, scripts) send no Origin and no
// Sec-Fetch-Site and are unaffected.
package httpguard

import (
	"encoding/json"
	"fmt"
	"mime"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strings"
)

// Hosts is the set of names and addresses a server answers to (lower case,
// without port or brackets).
type Hosts map[string]bool

// HostsFor returns the Host values a server bound to bound (the listener's
// address) and configured as listenHost (the host part of --addr, possibly a
// name) answers to, plus extra names. Loopback binds answer to localhost,
// 127.0.0.1 and ::1; a wildcard bind (0.0.0.0, ::) to the machine's interface
// addresses and the loopback names.
func HostsFor(listenHost string, bound net.Addr, extra []string) Hosts {
	h := Hosts{}
	add := func(s string) {
		if s = normHost(s); s != "" {
			h[s] = true
		}
	}
	for _, e := range extra {
		add(e)
	}
	loopback := func() {
		for _, n := range []string{"localhost", "127.0.0.1", "::1"} {
			add(n)
		}
	}
	if listenHost != "" && !isUnspecified(listenHost) {
		add(listenHost)
	}
	var ip net.IP
	if ta, ok := bound.(*net.TCPAddr); ok {
		ip = ta.IP
	}
	switch {
	case ip == nil:
	case ip.IsLoopback():
		loopback()
		add(ip.String())
	case ip.IsUnspecified():
		loopback()
		if addrs, err := net.InterfaceAddrs(); err == nil {
			for _, a := range addrs {
				if n, ok := a.(*net.IPNet); ok {
					add(n.IP.String())
				}
			}
		}
	default:
		add(ip.String())
	}
	return h
}

func isUnspecified(host string) bool {
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsUnspecified()
}

// normHost lower-cases a host, drops a port, IPv6 brackets, an IPv6 zone and
// a trailing dot, and writes IP addresses in their canonical form.
func normHost(s string) string {
	s = strings.TrimSpace(s)
	if h, _, err := net.SplitHostPort(s); err == nil {
		s = h
	}
	s = strings.TrimSuffix(strings.ToLower(strings.Trim(s, "[]")), ".")
	if i := strings.IndexByte(s, '%'); i >= 0 && strings.Contains(s, ":") {
		s = s[:i]
	}
	if ip := net.ParseIP(s); ip != nil {
		return ip.String()
	}
	return s
}

// Allows reports whether a Host header value names this server.
func (h Hosts) Allows(host string) bool { return h[normHost(host)] }

// List returns the names, sorted (for the startup log; refusals do not list
// them, as a rebinding page could read the answer).
func (h Hosts) List() []string {
	out := make([]string, 0, len(h))
	for k := range h {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Guard wraps next with the Host, origin and content-type checks. Refusals
// are JSON {"error":true,"message":…}: 403 for a foreign Host or a
// cross-origin request, 415 for a non-JSON body type. nil hosts skips the
// Host check (a server deliberately bound to the network, whose clients'
// names are not known).
func Guard(hosts Hosts, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hosts != nil && !hosts.Allows(r.Host) {
			refuse(w, http.StatusForbidden, fmt.Sprintf("Host %q is not a name or address of this server (a name it should answer to can be added with --allow-host)", r.Host))
			return
		}
		if !safeMethod(r.Method) {
			if msg := crossOrigin(r); msg != "" {
				refuse(w, http.StatusForbidden, msg)
				return
			}
			if ct := r.Header.Get("Content-Type"); ct != "" {
				mt, _, err := mime.ParseMediaType(ct)
				if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
					refuse(w, http.StatusUnsupportedMediaType, fmt.Sprintf("Content-Type %q refused: send application/json or no body", ct))
					return
				}
			}
		}
		next.ServeHTTP(w, r)
	})
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// crossOrigin returns why a state-changing request is refused ("" when it is
// same-origin or not from a browser).
func crossOrigin(r *http.Request) string {
	switch site := strings.ToLower(r.Header.Get("Sec-Fetch-Site")); site {
	case "", "same-origin", "none":
	default:
		return fmt.Sprintf("cross-origin %s refused (Sec-Fetch-Site: %s)", r.Method, site)
	}
	o := r.Header.Get("Origin")
	if o == "" {
		return ""
	}
	u, err := url.Parse(o)
	if err != nil || o == "null" || u.Host == "" || !strings.EqualFold(u.Host, r.Host) || (u.Scheme != "http" && u.Scheme != "https") {
		return fmt.Sprintf("cross-origin %s refused (Origin %s is not this server)", r.Method, o)
	}
	return ""
}

func refuse(w http.ResponseWriter, status int, msg string) {
	b, _ := json.Marshal(map[string]any{"error": true, "message": msg})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
