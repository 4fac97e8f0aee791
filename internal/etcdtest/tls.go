package etcdtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TLSFiles are the PEM files of a cluster started with StartTLS: the CA that
// signed everything, the members' certificate, and a client certificate.
type TLSFiles struct {
	CA                 string
	ServerCert, Server string // certificate and key of the members (127.0.0.1)
	ClientCert, Client string // certificate and key of a client
	OtherCA            string // a CA that signed nothing here (to show a refused server)
}

// newTLSFiles generates a CA, a server certificate for 127.0.0.1 and a client
// certificate into dir.
func newTLSFiles(t testing.TB, dir string) TLSFiles {
	t.Helper()
	ca, caKey := newCert(t, nil, nil, "focussync test CA", true)
	other, _ := newCert(t, nil, nil, "another CA", true)
	srv, srvKey := newCert(t, ca, caKey, "etcd member", false)
	cli, cliKey := newCert(t, ca, caKey, "focussync client", false)
	f := TLSFiles{CA: filepath.Join(dir, "ca.pem"), OtherCA: filepath.Join(dir, "other-ca.pem"),
		ServerCert: filepath.Join(dir, "server.pem"), Server: filepath.Join(dir, "server-key.pem"),
		ClientCert: filepath.Join(dir, "client.pem"), Client: filepath.Join(dir, "client-key.pem")}
	writePEM(t, f.CA, "CERTIFICATE", ca.Raw)
	writePEM(t, f.OtherCA, "CERTIFICATE", other.Raw)
	writePEM(t, f.ServerCert, "CERTIFICATE", srv.Raw)
	writePEM(t, f.ClientCert, "CERTIFICATE", cli.Raw)
	writeKey(t, f.Server, srvKey)
	writeKey(t, f.Client, cliKey)
	return f
}

var serial int64

func newCert(t testing.TB, parent *x509.Certificate, parentKey *ecdsa.PrivateKey, cn string, isCA bool) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial++
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial + time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:     []string{"localhost"},
	}
	if isCA {
		tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
		tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature
		tmpl.ExtKeyUsage, tmpl.IPAddresses, tmpl.DNSNames = nil, nil, nil
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}

func writePEM(t testing.TB, name, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(name, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

func writeKey(t testing.TB, name string, key *ecdsa.PrivateKey) {
	t.Helper()
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(fmt.Errorf("etcdtest: %w", err))
	}
	writePEM(t, name, "EC PRIVATE KEY", der)
}
