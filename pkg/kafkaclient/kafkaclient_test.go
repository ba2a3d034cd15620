package kafkaclient

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"hash/crc32"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/deimos-cli/deimos/pkg/config"
	"github.com/deimos-cli/deimos/pkg/errs"
)

func TestCRC32MatchesLibrdkafka(t *testing.T) {
	// librdkafka's consistent partitioner: crc32(key) % n, unsigned.
	for _, key := range []string{"a", "key1", "order-123", "\xff\xfe binary", strings.Repeat("x", 300)} {
		for _, n := range []int{1, 3, 7, 12, 100} {
			want := int(crc32.ChecksumIEEE([]byte(key)) % uint32(n))
			if got := CRC32Hasher([]byte(key), n); got != want {
				t.Fatalf("crc32(%q) %% %d = %d, want %d", key, n, got, want)
			}
			if got := PartitionFor("crc32", []byte(key), n); got != want {
				t.Fatalf("PartitionFor crc32 = %d, want %d", got, want)
			}
		}
	}
	// the two partitioners must really differ
	if PartitionFor("murmur2", []byte("key1"), 12) == PartitionFor("crc32", []byte("key1"), 12) &&
		PartitionFor("murmur2", []byte("key2"), 12) == PartitionFor("crc32", []byte("key2"), 12) &&
		PartitionFor("murmur2", []byte("key3"), 12) == PartitionFor("crc32", []byte("key3"), 12) {
		t.Fatal("murmur2 and crc32 should not agree on every key")
	}
}

func TestPartitionKeyOverridesKey(t *testing.T) {
	p, err := Partitioner("crc32")
	if err != nil {
		t.Fatal(err)
	}
	tp := p.ForTopic("t")
	r := &kgo.Record{Key: []byte("encoded-key-bytes"), Context: WithPartitionKey(context.Background(), []byte("123"))}
	if got, want := tp.Partition(r, 10), CRC32Hasher([]byte("123"), 10); got != want {
		t.Fatalf("partition = %d, want crc32(partition key) = %d", got, want)
	}
	if !tp.RequiresConsistency(r) {
		t.Fatal("keyed records must require consistency")
	}
	r2 := &kgo.Record{Key: []byte("abc")}
	if got, want := tp.Partition(r2, 10), CRC32Hasher([]byte("abc"), 10); got != want {
		t.Fatalf("partition = %d, want %d", got, want)
	}
	if tp.RequiresConsistency(&kgo.Record{}) {
		t.Fatal("keyless records are sticky-random, not consistent")
	}
	// keyless records stay on one partition until a new batch, and choosing
	// it allocates nothing (produce without a key calls this per record)
	kr := &kgo.Record{Value: []byte("v")}
	first := tp.Partition(kr, 10)
	if allocs := testing.AllocsPerRun(100, func() {
		if tp.Partition(kr, 10) != first {
			t.Fatal("keyless records left their sticky partition without a new batch")
		}
	}); allocs != 0 {
		t.Fatalf("%v allocations per keyless record", allocs)
	}
	if _, err := Partitioner("fnv"); err == nil {
		t.Fatal("unknown partitioner must be an error")
	}
}

// produce sends one record through a client built from cfg and reports the error.
func produce(t *testing.T, k config.Kafka) error {
	t.Helper()
	cl, err := NewClient(k, kgo.RecordDeliveryTimeout(5*time.Second), kgo.AllowAutoTopicCreation())
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
	defer cancel()
	if err := Ping(ctx, cl, k); err != nil {
		return err
	}
	return cl.ProduceSync(ctx, &kgo.Record{Topic: "t", Key: []byte("k"), Value: []byte("v")}).FirstErr()
}

func TestSASLAgainstKfake(t *testing.T) {
	for _, mech := range []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"} {
		t.Run(mech, func(t *testing.T) {
			c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.EnableSASL(), kfake.Superuser(mech, "relay", "s3cret"), kfake.AllowAutoTopicCreation())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			k := config.Kafka{Brokers: c.ListenAddrs(), ClientID: "test", Partitioner: "crc32",
				SASL: config.SASL{Mechanism: strings.ToLower(mech), Username: "relay", Password: "s3cret"}}
			if err := produce(t, k); err != nil {
				t.Fatalf("good credentials: %v", err)
			}
			k.SASL.Password = "wrong-password"
			err = produce(t, k)
			if err == nil {
				t.Fatal("wrong password must fail")
			}
			if strings.Contains(err.Error(), "wrong-password") {
				t.Fatalf("error leaks the password: %v", err)
			}
		})
	}
}

// certs writes a CA, a server cert for 127.0.0.1 and a client cert, returning their paths.
func certs(t *testing.T) (caFile, certFile, keyFile string, ca *x509.CertPool, server tls.Certificate) {
	t.Helper()
	dir := t.TempDir()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test-ca"}, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(time.Hour), IsCA: true, KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	ca = x509.NewCertPool()
	ca.AddCert(caCert)
	issue := func(cn string, usage x509.ExtKeyUsage, ip bool) ([]byte, []byte) {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{usage},
			KeyUsage: x509.KeyUsageDigitalSignature}
		if ip {
			tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		kder, _ := x509.MarshalECPrivateKey(key)
		return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
	}
	sCert, sKey := issue("broker", x509.ExtKeyUsageServerAuth, true)
	server, err = tls.X509KeyPair(sCert, sKey)
	if err != nil {
		t.Fatal(err)
	}
	cCert, cKey := issue("client", x509.ExtKeyUsageClientAuth, false)
	caFile, certFile, keyFile = filepath.Join(dir, "ca.pem"), filepath.Join(dir, "client.pem"), filepath.Join(dir, "client.key")
	os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o600)
	os.WriteFile(certFile, cCert, 0o600)
	os.WriteFile(keyFile, cKey, 0o600)
	return caFile, certFile, keyFile, ca, server
}

func TestTLSAndMutualTLSAgainstKfake(t *testing.T) {
	caFile, certFile, keyFile, ca, server := certs(t)
	start := func(clientAuth tls.ClientAuthType) []string {
		c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation(),
			kfake.TLS(&tls.Config{Certificates: []tls.Certificate{server}, ClientCAs: ca, ClientAuth: clientAuth, MinVersion: tls.VersionTLS12}))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.Close)
		return c.ListenAddrs()
	}
	brokers := start(tls.NoClientCert)
	base := config.Kafka{Brokers: brokers, ClientID: "test", Partitioner: "crc32", DialTimeout: config.Duration(3 * time.Second)}

	withCA := base
	withCA.TLS = config.TLS{CAFile: caFile}
	if err := produce(t, withCA); err != nil {
		t.Fatalf("TLS with the CA: %v", err)
	}
	insecure := base
	insecure.TLS = config.TLS{InsecureSkipVerify: true}
	if err := produce(t, insecure); err != nil {
		t.Fatalf("TLS with insecure_skip_verify: %v", err)
	}
	noCA := base
	noCA.TLS = config.TLS{Enabled: true}
	if err := produce(t, noCA); err == nil {
		t.Fatal("an unknown CA must be refused")
	} else if errs.ExitCode(err) != errs.CodeUnavailable {
		t.Fatalf("exit code %d for a TLS failure, want 3: %v", errs.ExitCode(err), err)
	}

	mtls := base
	mtls.Brokers = start(tls.RequireAndVerifyClientCert)
	mtls.TLS = config.TLS{CAFile: caFile}
	if err := produce(t, mtls); err == nil {
		t.Fatal("mTLS broker must refuse a client without a certificate")
	}
	mtls.TLS = config.TLS{CAFile: caFile, CertFile: certFile, KeyFile: keyFile}
	if err := produce(t, mtls); err != nil {
		t.Fatalf("mTLS with a client certificate: %v", err)
	}
}

func TestOptsErrors(t *testing.T) {
	tests := []struct {
		name string
		k    config.Kafka
		want string
	}{
		{"no brokers", config.Kafka{}, "no brokers"},
		{"bad partitioner", config.Kafka{Brokers: []string{"x:1"}, Partitioner: "fnv"}, "unknown partitioner"},
		{"bad mechanism", config.Kafka{Brokers: []string{"x:1"}, SASL: config.SASL{Mechanism: "GSSAPI"}}, "unsupported"},
		{"missing ca", config.Kafka{Brokers: []string{"x:1"}, TLS: config.TLS{CAFile: "/nonexistent/ca.pem"}}, "ca_file"},
		{"cert without key", config.Kafka{Brokers: []string{"x:1"}, TLS: config.TLS{CertFile: "/x.pem"}}, "together"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Opts(tt.k)
			if err == nil || !strings.Contains(err.Error(), tt.want) || errs.ExitCode(err) != errs.CodeUsage {
				t.Fatalf("err = %v (exit %d), want usage error containing %q", err, errs.ExitCode(err), tt.want)
			}
		})
	}
}

func TestDeadBrokerIsUnavailable(t *testing.T) {
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := l.Addr().String()
	l.Close()
	k := config.Kafka{Brokers: []string{addr}, ClientID: "t", Partitioner: "crc32", DialTimeout: config.Duration(time.Second),
		SASL: config.SASL{Mechanism: "PLAIN", Username: "u", Password: "hunter2"}}
	cl, err := NewClient(k)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	err = Ping(ctx, cl, k)
	if errs.ExitCode(err) != errs.CodeUnavailable || !strings.Contains(err.Error(), addr) || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("err = %v (exit %d)", err, errs.ExitCode(err))
	}
	if d := Describe(k); strings.Contains(d, "hunter2") || !strings.Contains(d, "sasl=PLAIN") {
		t.Fatalf("Describe = %q", d)
	}
}

// A producer-only client must accept the group session timeout option.
func TestSessionTimeoutOption(t *testing.T) {
	k := config.Kafka{Brokers: []string{"127.0.0.1:1"}, ClientID: "t", Partitioner: "crc32", SessionTimeout: config.Duration(10 * time.Second)}
	cl, err := NewClient(k)
	if err != nil {
		t.Fatal(err)
	}
	cl.Close()
	cl, err = NewClient(k, kgo.ConsumerGroup("g"), kgo.ConsumeTopics("t"))
	if err != nil {
		t.Fatal(err)
	}
	cl.Close()
}
