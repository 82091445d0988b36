package dev

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// certValidity is how long the dev control plane's certificates are valid; each run of
// dev mode makes new ones.
const certValidity = 7 * 24 * time.Hour

// pki is the dev control plane's certificates: one CA (ECDSA P-256) that signs
// kube-apiserver's serving certificate (localhost, 127.0.0.1) and the client certificate
// of the admin user dev-admin (group system:masters), and the key that signs
// ServiceAccount tokens. The file fields are paths under the directory newPKI was given.
type pki struct {
	caCert, servingCert, servingKey, saKey string
	caPEM, adminCertPEM, adminKeyPEM       []byte
}

// newPKI makes the certificates and keys and writes what kube-apiserver reads into dir
// (mode 0600).
func newPKI(dir string) (*pki, error) {
	caKey, _, err := newKey() // the CA's key only ever lives in memory
	if err != nil {
		return nil, err
	}
	caTmpl := certTemplate("switchboard-dev-ca")
	caTmpl.IsCA, caTmpl.BasicConstraintsValid = true, true
	caTmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, err
	}
	issue := func(tmpl *x509.Certificate) (certPEM, keyPEM []byte, err error) {
		key, keyPEM, err := newKey()
		if err != nil {
			return nil, nil, err
		}
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			return nil, nil, err
		}
		return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), keyPEM, nil
	}
	serving := certTemplate("kube-apiserver")
	serving.DNSNames, serving.IPAddresses = []string{"localhost"}, []net.IP{net.IPv4(127, 0, 0, 1)}
	serving.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	servingPEM, servingKeyPEM, err := issue(serving)
	if err != nil {
		return nil, err
	}
	admin := certTemplate("dev-admin")
	admin.Subject.Organization = []string{"system:masters"}
	admin.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	p := &pki{caCert: filepath.Join(dir, "ca.crt"), servingCert: filepath.Join(dir, "apiserver.crt"),
		servingKey: filepath.Join(dir, "apiserver.key"), saKey: filepath.Join(dir, "sa.key"),
		caPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})}
	if p.adminCertPEM, p.adminKeyPEM, err = issue(admin); err != nil {
		return nil, err
	}
	_, saKeyPEM, err := newKey()
	if err != nil {
		return nil, err
	}
	for path, data := range map[string][]byte{p.caCert: p.caPEM, p.servingCert: servingPEM,
		p.servingKey: servingKeyPEM, p.saKey: saKeyPEM} {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// newKey makes an ECDSA P-256 key and its PEM ("EC PRIVATE KEY").
func newKey() (*ecdsa.PrivateKey, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return key, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), nil
}

// certTemplate is a certificate for cn, valid from an hour ago (clock skew) for
// certValidity, with a random 128-bit serial number.
func certTemplate(cn string) *x509.Certificate {
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128)) // crypto/rand does not fail
	now := time.Now()
	return &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: cn},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(certValidity)}
}
