package checkpoint

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/deimos-cli/deimos/pkg/httpguard"
)

// APIOptions configure the events HTTP API.
type APIOptions struct {
	Store *Store
	// Runner re-runs the handler for POST /v1/failures/:id/retry (nil: 422
	// "no handler command configured", like Phobos's missing listener).
	Runner Runner
	Fields Fields
	// Token, when set, is required as "Authorization: Bearer TOKEN" (scheme
	// in any letter case) on every route but /ping (401 otherwise).
	Token string
	// Hosts are the Host header values the API answers to, and the origin
	// of the only pages whose POST and DELETE it obeys (pkg/httpguard); nil
	// means the loopback names.
	Hosts httpguard.Hosts
	// Log is told about each request (never the Authorization header).
	Log func(method, path string, status int, d time.Duration)
	// Redact masks secrets (database passwords, tokens) in an error text
	// before it is sent to a client; nil sends it as it is.
	Redact func(string) string
}

// DefaultLimit is the API's default page size.
const DefaultLimit = 20

// NewAPI returns the phobos_db_checkpoint events API (docs/deimos-compat.md §8.4).
func NewAPI(o APIOptions) http.Handler {
	a := &api{o: o}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ping", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain;charset=utf-8")
		_, _ = w.Write([]byte("PONG"))
	})
	mux.HandleFunc("GET /v1/events", a.listEvents)
	mux.HandleFunc("GET /v1/events/{id}", a.getEvent)
	mux.HandleFunc("GET /v1/failures", a.listFailures)
	mux.HandleFunc("GET /v1/failures/count", a.countFailures) // before /{id}, as in Ruby
	mux.HandleFunc("GET /v1/failures/{id}", a.getFailure)
	mux.HandleFunc("DELETE /v1/failures/{id}", a.deleteFailure)
	mux.HandleFunc("POST /v1/failures/{id}/retry", a.retryFailure)
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := mux.Handler(r); pattern == "" {
			writeErr(w, http.StatusNotFound, "not found")
			return
		}
		if o.Token != "" && r.URL.Path != "/ping" && !authorized(r, o.Token) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="deimos events"`)
			writeErr(w, http.StatusUnauthorized, "unauthorized")
			return
		}
		mux.ServeHTTP(w, r)
	})
	hosts := o.Hosts
	if hosts == nil {
		hosts = httpguard.HostsFor("", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)}, nil)
	}
	guarded := httpguard.Guard(hosts, inner)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: 200}
		defer func() {
			if v := recover(); v != nil {
				writeErr(sw, http.StatusInternalServerError, "internal error")
			}
			if o.Log != nil {
				o.Log(r.Method, r.URL.Path, sw.status, time.Since(start))
			}
		}()
		guarded.ServeHTTP(sw, r)
	})
}

// authorized checks "Authorization: Bearer TOKEN"; the scheme name is
// case-insensitive (RFC 9110 section 11.1).
func authorized(r *http.Request, token string) bool {
	scheme, got, ok := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " ")
	return ok && strings.EqualFold(scheme, "Bearer") && subtle.ConstantTimeCompare([]byte(strings.TrimSpace(got)), []byte(token)) == 1
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(c int) { s.status = c; s.ResponseWriter.WriteHeader(c) }

type api struct{ o APIOptions }

// errText is an error's text as a client may see it: with secrets masked.
func (a *api) errText(err error) string {
	if a.o.Redact != nil {
		return a.o.Redact(err.Error())
	}
	return err.Error()
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeErr(w, http.StatusInternalServerError, err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func writeErr(w http.ResponseWriter, status int, msg string) {
	b, _ := json.Marshal(map[string]any{"error": true, "message": msg})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// intParam parses a non-negative integer parameter. Unlike Ruby's to_i
// (which turns "abc" into 0), a malformed value is a 400.
func intParam(r *http.Request, name string, def int) (int, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < 0 {
		return 0, errors.New(name + " must be a non-negative integer")
	}
	return n, nil
}

func filterOf(w http.ResponseWriter, r *http.Request) (Filter, bool) {
	lim, err := intParam(r, "limit", DefaultLimit)
	if err == nil {
		var off int
		off, err = intParam(r, "offset", 0)
		if err == nil {
			q := r.URL.Query()
			return Filter{Topic: q.Get("topic"), GroupID: q.Get("group_id"), EntityID: q.Get("entity_id"), EventType: q.Get("event_type"), Limit: lim, Offset: off}, true
		}
	}
	writeErr(w, http.StatusBadRequest, err.Error())
	return Filter{}, false
}

func idOf(w http.ResponseWriter, r *http.Request) (int64, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		writeErr(w, http.StatusBadRequest, "id must be a positive integer")
		return 0, false
	}
	return id, true
}

func (a *api) fail(w http.ResponseWriter, err error, what string) {
	if errors.Is(err, ErrNotFound) {
		writeErr(w, http.StatusNotFound, what+" not found")
		return
	}
	writeErr(w, http.StatusInternalServerError, a.errText(err))
}

func (a *api) listEvents(w http.ResponseWriter, r *http.Request) {
	f, ok := filterOf(w, r)
	if !ok {
		return
	}
	evs, err := a.o.Store.ListEvents(r.Context(), f)
	if err != nil {
		a.fail(w, err, "event")
		return
	}
	writeJSON(w, 200, evs)
}

func (a *api) getEvent(w http.ResponseWriter, r *http.Request) {
	id, ok := idOf(w, r)
	if !ok {
		return
	}
	e, err := a.o.Store.GetEvent(r.Context(), id)
	if err != nil {
		a.fail(w, err, "event")
		return
	}
	writeJSON(w, 200, e)
}

func (a *api) listFailures(w http.ResponseWriter, r *http.Request) {
	f, ok := filterOf(w, r)
	if !ok {
		return
	}
	fs, err := a.o.Store.ListFailures(r.Context(), f)
	if err != nil {
		a.fail(w, err, "failure")
		return
	}
	writeJSON(w, 200, fs)
}

func (a *api) countFailures(w http.ResponseWriter, r *http.Request) {
	n, err := a.o.Store.CountFailures(r.Context())
	if err != nil {
		a.fail(w, err, "failure")
		return
	}
	writeJSON(w, 200, map[string]int64{"count": n})
}

func (a *api) getFailure(w http.ResponseWriter, r *http.Request) {
	id, ok := idOf(w, r)
	if !ok {
		return
	}
	f, err := a.o.Store.GetFailure(r.Context(), id)
	if err != nil {
		a.fail(w, err, "failure")
		return
	}
	writeJSON(w, 200, f)
}

func (a *api) deleteFailure(w http.ResponseWriter, r *http.Request) {
	id, ok := idOf(w, r)
	if !ok {
		return
	}
	if err := a.o.Store.DeleteFailure(r.Context(), id); err != nil {
		a.fail(w, err, "failure")
		return
	}
	writeJSON(w, 200, map[string]bool{"acknowledged": true})
}

func (a *api) retryFailure(w http.ResponseWriter, r *http.Request) {
	id, ok := idOf(w, r)
	if !ok {
		return
	}
	if a.o.Runner == nil {
		if _, err := a.o.Store.GetFailure(r.Context(), id); err != nil {
			a.fail(w, err, "failure")
			return
		}
		writeErr(w, http.StatusUnprocessableEntity, "no handler command configured (give events serve --exec, or a consumer with exec in deimos.yaml)")
		return
	}
	acked, err := Retry(r.Context(), a.o.Store, a.o.Runner, a.o.Fields, id)
	var re *RetryError
	switch {
	case errors.Is(err, ErrClaimed):
		writeErr(w, http.StatusConflict, a.errText(err))
	case errors.As(err, &re):
		writeErr(w, http.StatusUnprocessableEntity, a.errText(re))
	case err != nil:
		a.fail(w, err, "failure")
	default:
		writeJSON(w, 200, map[string]bool{"acknowledged": acked})
	}
}
