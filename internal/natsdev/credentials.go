package natsdev

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
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"
)

// Throw-away credentials for local runs and tests: a TLS PKI, NKeys, and
// an operator/account/user JWT chain. Nothing here is fit for production
// (keys are written unencrypted to dir); it exists so that every
// authentication method the fleet supports can be exercised against a
// real server.

// TLSFiles are PEM files of a CA, a server certificate for 127.0.0.1 and
// localhost, and a client certificate, all signed by the CA.
type TLSFiles struct {
	CA                    string
	ServerCert, ServerKey string
	ClientCert, ClientKey string
}

// GenerateTLS writes a fresh CA, server and client certificates into dir.
func GenerateTLS(dir, clientName string) (TLSFiles, error) {
	f := TLSFiles{
		CA:         filepath.Join(dir, "ca.pem"),
		ServerCert: filepath.Join(dir, "server.pem"), ServerKey: filepath.Join(dir, "server-key.pem"),
		ClientCert: filepath.Join(dir, "client.pem"), ClientKey: filepath.Join(dir, "client-key.pem"),
	}
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return f, err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "personfleet test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return f, err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return f, err
	}
	if err := writePEM(f.CA, "CERTIFICATE", caDER); err != nil {
		return f, err
	}
	leaf := func(serial int64, cn string, usage x509.ExtKeyUsage, certFile, keyFile string) error {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return err
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
		}
		if usage == x509.ExtKeyUsageServerAuth {
			tmpl.DNSNames = []string{"localhost"}
			tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			return err
		}
		kb, err := x509.MarshalECPrivateKey(key)
		if err != nil {
			return err
		}
		if err := writePEM(certFile, "CERTIFICATE", der); err != nil {
			return err
		}
		return writePEM(keyFile, "EC PRIVATE KEY", kb)
	}
	if err := leaf(2, "127.0.0.1", x509.ExtKeyUsageServerAuth, f.ServerCert, f.ServerKey); err != nil {
		return f, err
	}
	if err := leaf(3, clientName, x509.ExtKeyUsageClientAuth, f.ClientCert, f.ClientKey); err != nil {
		return f, err
	}
	return f, nil
}

func writePEM(path, typ string, der []byte) error {
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600)
}

// NKeyFile is a user NKey: its seed file (what a client holds) and its
// public key (what the server is configured with).
type NKeyFile struct {
	SeedFile  string
	PublicKey string
	Seed      string
}

// GenerateNKey writes a fresh user NKey seed to dir/name.nk.
func GenerateNKey(dir, name string) (NKeyFile, error) {
	kp, err := nkeys.CreateUser()
	if err != nil {
		return NKeyFile{}, err
	}
	seed, err := kp.Seed()
	if err != nil {
		return NKeyFile{}, err
	}
	pub, err := kp.PublicKey()
	if err != nil {
		return NKeyFile{}, err
	}
	f := NKeyFile{SeedFile: filepath.Join(dir, name+".nk"), PublicKey: pub, Seed: string(seed)}
	return f, os.WriteFile(f.SeedFile, append(seed, '\n'), 0o600)
}

// JWTAuth is an operator with one account (JetStream enabled, no limits)
// and one user of it, whose .creds file (user JWT and seed) is CredsFile.
type JWTAuth struct {
	Operator  Operator
	CredsFile string
	// UserSeed is the secret part of the creds file.
	UserSeed string
	// UserJWT is the user's JWT (public, but bearer-like in effect).
	UserJWT string
}

// GenerateJWT writes dir/name.creds for a fresh operator → account → user
// chain and returns the operator config the server needs.
func GenerateJWT(dir, name string) (JWTAuth, error) {
	var out JWTAuth
	okp, err := nkeys.CreateOperator()
	if err != nil {
		return out, err
	}
	opub, _ := okp.PublicKey()
	oc := jwt.NewOperatorClaims(opub)
	oc.Name = "personfleet-test"
	ojwt, err := oc.Encode(okp)
	if err != nil {
		return out, fmt.Errorf("operator jwt: %w", err)
	}
	akp, err := nkeys.CreateAccount()
	if err != nil {
		return out, err
	}
	apub, _ := akp.PublicKey()
	ac := jwt.NewAccountClaims(apub)
	ac.Name = "FLEET"
	ac.Limits.JetStreamLimits = jwt.JetStreamLimits{MemoryStorage: -1, DiskStorage: -1, Streams: -1, Consumer: -1}
	ajwt, err := ac.Encode(okp)
	if err != nil {
		return out, fmt.Errorf("account jwt: %w", err)
	}
	// A system account, so the server runs in full operator mode.
	skp, err := nkeys.CreateAccount()
	if err != nil {
		return out, err
	}
	spub, _ := skp.PublicKey()
	sc := jwt.NewAccountClaims(spub)
	sc.Name = "SYS"
	sjwt, err := sc.Encode(okp)
	if err != nil {
		return out, fmt.Errorf("system account jwt: %w", err)
	}
	ukp, err := nkeys.CreateUser()
	if err != nil {
		return out, err
	}
	upub, _ := ukp.PublicKey()
	uc := jwt.NewUserClaims(upub)
	uc.Name = name
	ujwt, err := uc.Encode(akp)
	if err != nil {
		return out, fmt.Errorf("user jwt: %w", err)
	}
	useed, err := ukp.Seed()
	if err != nil {
		return out, err
	}
	creds, err := jwt.FormatUserConfig(ujwt, useed)
	if err != nil {
		return out, err
	}
	out = JWTAuth{
		Operator:  Operator{JWT: ojwt, Accounts: []string{ajwt, sjwt}, SystemAccount: spub},
		CredsFile: filepath.Join(dir, name+".creds"), UserSeed: string(useed), UserJWT: ujwt,
	}
	return out, os.WriteFile(out.CredsFile, creds, 0o600)
}
