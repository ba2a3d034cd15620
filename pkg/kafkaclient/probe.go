package kafkaclient

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/deimos-cli/deimos/pkg/config"
	"github.com/deimos-cli/deimos/pkg/errs"
)

// A client and a listener that disagree about TLS or SASL fail in ways
// that do not say so: TLS against a plaintext listener waits until the
// timeout (the broker reads the TLS hello as the size of a huge request),
// SASL against a listener without it ends in a bare EOF. Probe talks to a
// broker in plain Kafka protocol, a few hundred bytes, to tell which side
// speaks what.

// probeTimeout bounds each step of the probe.
const probeTimeout = 3 * time.Second

// Probe returns a configuration error (exit 2) naming the mismatch when
// the first broker that accepts a TCP connection speaks differently from
// the client config (TLS or not, SASL or not); nil when it finds none or
// cannot tell. It sends nothing but ApiVersions, SaslHandshake and an
// empty Metadata request, and never credentials.
func Probe(ctx context.Context, k config.Kafka) error {
	for _, addr := range k.Brokers {
		if ctx.Err() != nil {
			return nil
		}
		found, err := probeOne(ctx, k, addr)
		if found {
			return err
		}
	}
	return nil
}

// probeOne returns found=false when addr cannot be reached at all.
func probeOne(ctx context.Context, k config.Kafka, addr string) (bool, error) {
	d := net.Dialer{Timeout: probeTimeout}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return false, nil
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	defer stop()

	tlsOn := k.TLS.On()
	sasl := strings.ToUpper(k.SASL.Mechanism)
	pc := &probeConn{c: conn, r: bufio.NewReader(conn)}
	av := kmsg.NewPtrApiVersionsRequest()
	av.Version = 0
	_, plainErr := pc.roundTrip(av)
	if plainErr != nil {
		// Not plaintext Kafka. Does it speak TLS?
		if !tlsOn && speaksTLS(ctx, addr) {
			return true, errs.Usagef("kafka: %s speaks TLS, but TLS is not configured: set kafka.tls (ca_file; insecure_skip_verify only for tests), or use the brokers' plaintext listener", addr)
		}
		return true, nil
	}
	if tlsOn {
		return true, errs.Usagef("kafka: %s speaks plaintext Kafka (no TLS), but TLS is configured (kafka.tls): use the brokers' TLS listener, or remove kafka.tls", addr)
	}
	if sasl != "" {
		noSASL := errs.Usagef("kafka: %s speaks plaintext Kafka without SASL authentication, but SASL is configured (kafka.sasl mechanism %s): use the brokers' SASL listener, or remove kafka.sasl", addr, sasl)
		hs := kmsg.NewPtrSASLHandshakeRequest()
		hs.Version = 1
		hs.Mechanism = sasl
		resp, err := pc.roundTrip(hs)
		if err != nil {
			return true, noSASL // a listener without SASL hangs up at the handshake
		}
		r := resp.(*kmsg.SASLHandshakeResponse)
		if e := kerr.ErrorForCode(r.ErrorCode); e != nil {
			if errors.Is(e, kerr.UnsupportedSaslMechanism) {
				return true, errs.Usagef("kafka: %s does not enable SASL mechanism %s (kafka.sasl.mechanism); it offers %s", addr, sasl, strings.Join(r.SupportedMechanisms, ", "))
			}
			return true, nil
		}
		// A listener that authenticates takes nothing but the login now;
		// one that answers a Metadata request does not authenticate at all.
		if _, err := pc.roundTrip(emptyMetadata()); err == nil {
			return true, noSASL
		}
		return true, nil // SASL spoken here: a refused login is reported by the client
	}
	// No SASL configured: does the broker refuse requests until one logs in?
	if _, err := pc.roundTrip(emptyMetadata()); err == nil {
		return true, nil
	}
	if mechs, ok := saslMechanisms(ctx, addr); ok {
		offers := ""
		if len(mechs) > 0 {
			offers = " (it offers " + strings.Join(mechs, ", ") + ")"
		}
		return true, errs.Usagef("kafka: %s requires SASL%s, but no SASL is configured: set kafka.sasl (or DEIMOS_SASL_MECHANISM, DEIMOS_SASL_USERNAME, DEIMOS_SASL_PASSWORD)", addr, offers)
	}
	return true, nil
}

func emptyMetadata() kmsg.Request {
	md := kmsg.NewPtrMetadataRequest()
	md.Version = 1
	md.Topics = []kmsg.MetadataRequestTopic{} // no topics: the brokers only
	return md
}

// speaksTLS reports whether a TLS handshake with addr completes (any
// certificate: this only asks which protocol the listener speaks).
func speaksTLS(ctx context.Context, addr string) bool {
	d := tls.Dialer{NetDialer: &net.Dialer{Timeout: probeTimeout}, Config: &tls.Config{InsecureSkipVerify: true}} //nolint:gosec // protocol probe, no data sent
	cctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	c, err := d.DialContext(cctx, "tcp", addr)
	if err != nil {
		return false
	}
	_ = c.Close()
	return true
}

// saslMechanisms asks addr, on a fresh connection, which SASL mechanisms it
// enables, with a handshake for a mechanism no broker has (so that it lists
// the ones it has); ok is false when it does not answer a SASL handshake.
func saslMechanisms(ctx context.Context, addr string) (mechs []string, ok bool) {
	d := net.Dialer{Timeout: probeTimeout}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, false
	}
	defer conn.Close()
	pc := &probeConn{c: conn, r: bufio.NewReader(conn)}
	hs := kmsg.NewPtrSASLHandshakeRequest()
	hs.Version = 1
	hs.Mechanism = "DEIMOS-PROBE"
	resp, err := pc.roundTrip(hs)
	if err != nil {
		return nil, false
	}
	return resp.(*kmsg.SASLHandshakeResponse).SupportedMechanisms, true
}

type probeConn struct {
	c    net.Conn
	r    *bufio.Reader
	corr int32
}

// roundTrip sends one non-flexible request and reads its response.
func (p *probeConn) roundTrip(req kmsg.Request) (kmsg.Response, error) {
	p.corr++
	body := req.AppendTo(nil)
	msg := make([]byte, 4, 4+14+len(body))
	msg = binary.BigEndian.AppendUint16(msg, uint16(req.Key()))
	msg = binary.BigEndian.AppendUint16(msg, uint16(req.GetVersion()))
	msg = binary.BigEndian.AppendUint32(msg, uint32(p.corr))
	msg = binary.BigEndian.AppendUint16(msg, uint16(len("deimos-probe")))
	msg = append(msg, "deimos-probe"...)
	msg = append(msg, body...)
	binary.BigEndian.PutUint32(msg, uint32(len(msg)-4))
	_ = p.c.SetDeadline(time.Now().Add(probeTimeout))
	if _, err := p.c.Write(msg); err != nil {
		return nil, err
	}
	var hdr [8]byte
	if _, err := io.ReadFull(p.r, hdr[:]); err != nil {
		return nil, err
	}
	size := int32(binary.BigEndian.Uint32(hdr[:4]))
	if size < 4 || size > 1<<20 || int32(binary.BigEndian.Uint32(hdr[4:])) != p.corr {
		return nil, fmt.Errorf("not a Kafka response")
	}
	buf := make([]byte, size-4)
	if _, err := io.ReadFull(p.r, buf); err != nil {
		return nil, err
	}
	resp := req.ResponseKind()
	resp.SetVersion(req.GetVersion())
	if err := resp.ReadFrom(buf); err != nil {
		return nil, err
	}
	return resp, nil
}

// Reach runs ping (the client's own check that a broker answers) and Probe
// side by side: a mismatch the probe finds is returned at once, without
// waiting for the ping to time out; otherwise the ping's result, with
// wrap applied to a failure.
func Reach(ctx context.Context, k config.Kafka, ping func(context.Context) error) error {
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pinged := make(chan error, 1)
	go func() { pinged <- ping(pctx) }()
	probed := make(chan error, 1)
	go func() { probed <- Probe(pctx, k) }()
	for {
		select {
		case err := <-pinged:
			if err == nil {
				return nil
			}
			if probed == nil {
				return err // the probe found nothing to explain
			}
			// the ping failed first: give the probe a moment to explain why
			select {
			case perr := <-probed:
				if perr != nil {
					return perr
				}
			case <-time.After(2 * probeTimeout):
			case <-ctx.Done():
			}
			return err
		case perr := <-probed:
			if perr != nil {
				cancel()
				<-pinged
				return perr
			}
			probed = nil // nothing found: wait for the ping
		}
	}
}
