// Package registry builds the Confluent Schema Registry client (franz-go's
// pkg/sr) from config: URL, basic auth, bearer token and TLS.
package registry

import (
	"net/http"
	"net/url"
	"time"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/deimos-cli/deimos/pkg/config"
	"github.com/deimos-cli/deimos/pkg/errs"
	"github.com/deimos-cli/deimos/pkg/redact"
	"github.com/deimos-cli/deimos/pkg/tlsconf"
)

// New returns a client, or (nil, nil) when no registry URL is configured.
func New(r config.Registry) (*sr.Client, error) {
	if r.URL == "" {
		return nil, nil
	}
	u, err := redact.ParseURL(r.URL)
	if err != nil {
		return nil, errs.Usagef("schema.registry.url: %s %w", redact.DSN(r.URL), err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errs.Usagef("schema.registry.url: %s is not an http(s) URL", redact.DSN(r.URL))
	}
	// Credentials inside the URL become basic auth and leave the URL, so no
	// error that quotes the URL can carry them.
	var urlUser *url.Userinfo
	urlUser, u.User = u.User, nil
	opts := []sr.ClientOpt{sr.URLs(u.String()), sr.UserAgent("deimos")}
	tc, err := tlsconf.Build(r.TLS)
	if err != nil {
		return nil, errs.Usagef("schema.registry.%w", err)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tc
	opts = append(opts, sr.HTTPClient(&http.Client{Timeout: 30 * time.Second, Transport: tr}))
	if urlUser != nil {
		p, _ := urlUser.Password()
		opts = append(opts, sr.BasicAuth(urlUser.Username(), p))
	}
	if r.Username != "" {
		opts = append(opts, sr.BasicAuth(r.Username, r.Password))
	}
	if r.Token != "" {
		opts = append(opts, sr.BearerToken(r.Token))
	}
	cl, err := sr.NewClient(opts...)
	if err != nil {
		return nil, errs.Usagef("schema registry client: %w", err)
	}
	return cl, nil
}
