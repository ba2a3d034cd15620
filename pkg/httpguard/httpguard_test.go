package httpguard

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestHostsFor(t *testing.T) {
	lo := HostsFor("127.0.0.1", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 9292}, []string{"Events.Internal."})
	for _, h := range []string{"127.0.0.1:9292", "localhost:9292", "LOCALHOST", "[::1]:9292", "events.internal:80", "events.internal"} {
		if !lo.Allows(h) {
			t.Errorf("loopback server refuses Host %q", h)
		}
	}
	for _, h := range []string{"", "evil.example:9292", "127.0.0.2:9292", "10.0.0.1", "localhost.evil.example"} {
		if lo.Allows(h) {
			t.Errorf("loopback server allows Host %q", h)
		}
	}
	one := HostsFor("10.1.2.3", &net.TCPAddr{IP: net.ParseIP("10.1.2.3")}, nil)
	if !one.Allows("10.1.2.3:9292") || one.Allows("localhost:9292") || one.Allows("10.1.2.4") {
		t.Errorf("specific bind: %v", one.List())
	}
	named := HostsFor("deimos-box", &net.TCPAddr{IP: net.ParseIP("10.1.2.3")}, nil)
	if !named.Allows("deimos-box:9292") || !named.Allows("10.1.2.3") {
		t.Errorf("named bind: %v", named.List())
	}
	wild := HostsFor("0.0.0.0", &net.TCPAddr{IP: net.IPv4zero}, nil)
	if !wild.Allows("127.0.0.1:1") || !wild.Allows("localhost") || wild.Allows("0.0.0.0") || wild.Allows("evil.example") {
		t.Errorf("wildcard bind: %v", wild.List())
	}
}

func TestGuard(t *testing.T) {
	hosts := HostsFor("127.0.0.1", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 9292}, nil)
	ran := 0
	h := Guard(hosts, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { ran++ }))
	cases := []struct {
		name, method, host string
		hdr                map[string]string
		want               int
	}{
		{"curl GET", "GET", "127.0.0.1:9292", nil, 200},
		{"curl POST, no body type", "POST", "127.0.0.1:9292", nil, 200},
		{"JSON POST", "POST", "localhost:9292", map[string]string{"Content-Type": "application/json; charset=utf-8"}, 200},
		{"same-origin browser POST", "POST", "127.0.0.1:9292", map[string]string{"Origin": "http://127.0.0.1:9292", "Sec-Fetch-Site": "same-origin", "Content-Type": "application/json"}, 200},
		{"typed-in URL", "GET", "127.0.0.1:9292", map[string]string{"Sec-Fetch-Site": "none"}, 200},
		{"DNS rebinding GET", "GET", "attacker.example:9292", nil, 403},
		{"DNS rebinding POST", "POST", "attacker.example:9292", map[string]string{"Origin": "http://attacker.example:9292"}, 403},
		{"cross-origin simple POST", "POST", "127.0.0.1:9292", map[string]string{"Origin": "https://evil.example", "Content-Type": "text/plain"}, 403},
		{"cross-origin POST, no body", "POST", "127.0.0.1:9292", map[string]string{"Origin": "https://evil.example"}, 403},
		{"opaque origin", "POST", "127.0.0.1:9292", map[string]string{"Origin": "null"}, 403},
		{"other port is another origin", "DELETE", "127.0.0.1:9292", map[string]string{"Origin": "http://127.0.0.1:3000"}, 403},
		{"Sec-Fetch-Site cross-site", "DELETE", "127.0.0.1:9292", map[string]string{"Sec-Fetch-Site": "cross-site"}, 403},
		{"Sec-Fetch-Site same-site", "POST", "127.0.0.1:9292", map[string]string{"Sec-Fetch-Site": "same-site"}, 403},
		{"form POST without Origin", "POST", "127.0.0.1:9292", map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, 415},
		{"multipart POST", "POST", "127.0.0.1:9292", map[string]string{"Content-Type": "multipart/form-data; boundary=x"}, 415},
		{"text POST", "POST", "127.0.0.1:9292", map[string]string{"Content-Type": "text/plain"}, 415},
		{"cross-origin GET is only read-protected by the browser", "GET", "127.0.0.1:9292", map[string]string{"Origin": "https://evil.example"}, 200},
	}
	for _, c := range cases {
		ran = 0
		r := httptest.NewRequest(c.method, "/v1/failures/1/retry", strings.NewReader(""))
		r.Host = c.host
		for k, v := range c.hdr {
			r.Header.Set(k, v)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != c.want {
			t.Errorf("%s: status %d (%s), want %d", c.name, w.Code, w.Body, c.want)
		}
		if (ran == 1) != (c.want == 200) {
			t.Errorf("%s: handler ran %d times", c.name, ran)
		}
		if c.want != 200 && !strings.Contains(w.Body.String(), `"error":true`) {
			t.Errorf("%s: body %s", c.name, w.Body)
		}
	}
}
