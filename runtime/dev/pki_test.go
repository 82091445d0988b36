package dev

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"os"
	"slices"
	"testing"
)

// TestPKI: the serving certificate verifies for 127.0.0.1 and localhost against the CA,
// the admin's client certificate verifies as a client in group system:masters, the key
// files are private, and each run makes a new CA.
func TestPKI(t *testing.T) {
	dir := t.TempDir()
	p, err := newPKI(dir)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(p.caPEM) {
		t.Fatal("the CA PEM holds no certificate")
	}
	serving, err := tls.LoadX509KeyPair(p.servingCert, p.servingKey)
	if err != nil {
		t.Fatal(err)
	}
	for _, host := range []string{"127.0.0.1", "localhost"} {
		if _, err := serving.Leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: host}); err != nil {
			t.Errorf("serving certificate for %s: %v", host, err)
		}
	}
	if _, err := serving.Leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: "example.com"}); err == nil {
		t.Error("the serving certificate verifies for example.com")
	}
	admin, err := tls.X509KeyPair(p.adminCertPEM, p.adminKeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Leaf.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("admin client certificate: %v", err)
	}
	if admin.Leaf.Subject.CommonName != "dev-admin" || !slices.Equal(admin.Leaf.Subject.Organization, []string{"system:masters"}) {
		t.Errorf("admin subject: %v", admin.Leaf.Subject)
	}
	sa, _ := os.ReadFile(p.saKey)
	if b, _ := pem.Decode(sa); b == nil || b.Type != "EC PRIVATE KEY" {
		t.Errorf("ServiceAccount signing key: %q", sa)
	}
	for _, f := range []string{p.caCert, p.servingCert, p.servingKey, p.saKey} {
		if info, err := os.Stat(f); err != nil || info.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v %v", f, info, err)
		}
	}
	other, err := newPKI(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if slices.Equal(other.caPEM, p.caPEM) {
		t.Error("two runs made the same CA")
	}
}
