// Package devenv runs the in-memory Kafka broker (franz-go's kfake) and schema
// registry (srfake) behind `deimos dev`, for local work and users' own tests.
package devenv

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/deimos-cli/deimos/pkg/errs"
	"github.com/deimos-cli/deimos/pkg/httpguard"
)

// Options for Start. Port 0 picks a free port.
type Options struct {
	Host         string // default 127.0.0.1
	KafkaPort    int
	RegistryPort int
	Partitions   int      // default partitions of auto-created topics (default 3)
	Topics       []string // topics created at start
	NoRegistry   bool
	// Interceptors see registry requests first (e.g. compatibility enforcement).
	Interceptors func(*srfake.Registry) []srfake.Interceptor
}

// Env is a running dev environment.
type Env struct {
	Cluster  *kfake.Cluster
	Registry *srfake.Registry
	Brokers  []string
	URL      string // registry URL ("" when NoRegistry)

	srv *http.Server
}

// Start brings up the broker and registry. A port already in use is a usage
// error naming the flag to change.
func Start(o Options) (*Env, error) {
	if o.Host == "" {
		o.Host = "127.0.0.1"
	}
	if o.Partitions <= 0 {
		o.Partitions = 3
	}
	kopts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.Ports(o.KafkaPort),
		kfake.AllowAutoTopicCreation(),
		kfake.DefaultNumPartitions(o.Partitions),
		kfake.ListenFn(func(network, addr string) (net.Listener, error) {
			_, port, _ := net.SplitHostPort(addr)
			return net.Listen(network, net.JoinHostPort(o.Host, port))
		}),
	}
	if len(o.Topics) > 0 {
		kopts = append(kopts, kfake.SeedTopics(int32(o.Partitions), o.Topics...))
	}
	c, err := kfake.NewCluster(kopts...)
	if err != nil {
		return nil, errs.Usagef("dev: cannot start the Kafka broker on %s:%d (%v); pick another with --kafka-port", o.Host, o.KafkaPort, err)
	}
	e := &Env{Cluster: c, Brokers: c.ListenAddrs()}
	if o.NoRegistry {
		return e, nil
	}
	l, err := net.Listen("tcp", net.JoinHostPort(o.Host, strconv.Itoa(o.RegistryPort)))
	if err != nil {
		c.Close()
		return nil, errs.Usagef("dev: cannot start the schema registry on %s:%d (%v); pick another with --registry-port", o.Host, o.RegistryPort, err)
	}
	var regOpts []srfake.Option
	reg := srfake.NewRegistry(regOpts...)
	if o.Interceptors != nil {
		for _, ic := range o.Interceptors(reg) {
			reg.Intercept(ic)
		}
	}
	e.Registry = reg
	e.URL = "http://" + l.Addr().String()
	// Web pages must not drive the registry (pkg/httpguard): on loopback
	// only this machine's names are answered; anywhere, cross-origin and
	// non-JSON POST/PUT/DELETE are refused (clients send JSON types).
	var hosts httpguard.Hosts
	if ta, ok := l.Addr().(*net.TCPAddr); ok && ta.IP.IsLoopback() {
		hosts = httpguard.HostsFor(o.Host, l.Addr(), nil)
	}
	e.srv = &http.Server{Handler: httpguard.Guard(hosts, reg.Handler()), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = e.srv.Serve(l) }()
	return e, nil
}

// Close stops both servers.
func (e *Env) Close() {
	if e.srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err := e.srv.Shutdown(ctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
			_ = e.srv.Close()
		}
	}
	e.Cluster.Close()
}

// String describes the addresses for humans.
func (e *Env) String() string {
	s := fmt.Sprintf("kafka    %s", e.Brokers[0])
	if e.URL != "" {
		s += fmt.Sprintf("\nregistry %s", e.URL)
	}
	return s
}
