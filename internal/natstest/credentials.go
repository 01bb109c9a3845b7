package natstest

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

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"

	"github.com/personfleet/personfleet/internal/natsdev"
)

// Throw-away credentials for tests: a TLS PKI, NKeys, and an
// operator/account/user JWT chain, written unencrypted to temporary
// directories, so that every authentication method the fleet supports can
// be exercised against a real server.

// Identities are the credentials of every method twice: the fleet's, and
// an intruder's (another NKey, another operator, another CA), which a
// server set up for the fleet must refuse.
type Identities struct {
	NKey, OtherNKey NKeyFile
	JWT, OtherJWT   JWTAuth
	TLS, OtherTLS   TLSFiles
}

// NewIdentities generates both sets in temporary directories.
func NewIdentities(tb testing.TB) Identities {
	tb.Helper()
	var id Identities
	for _, who := range []struct {
		name string
		nk   *NKeyFile
		jw   *JWTAuth
		pki  *TLSFiles
	}{
		{"fleet", &id.NKey, &id.JWT, &id.TLS},
		{"intruder", &id.OtherNKey, &id.OtherJWT, &id.OtherTLS},
	} {
		dir := tb.TempDir()
		var err error
		if *who.nk, err = generateNKey(dir, who.name); err == nil {
			if *who.jw, err = generateJWT(dir, who.name); err == nil {
				*who.pki, err = generateTLS(dir, who.name)
			}
		}
		if err != nil {
			tb.Fatalf("credentials of %s: %v", who.name, err)
		}
	}
	return id
}

// TLSFiles are PEM files of a CA, a server certificate for 127.0.0.1 and
// localhost, and a client certificate, all signed by the CA.
type TLSFiles struct {
	CA                    string
	ServerCert, ServerKey string
	ClientCert, ClientKey string
}

// generateTLS writes a fresh CA, server and client certificates into dir.
func generateTLS(dir, clientName string) (TLSFiles, error) {
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

// generateNKey writes a fresh user NKey seed to dir/name.nk.
func generateNKey(dir, name string) (NKeyFile, error) {
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
	Operator  natsdev.Operator
	CredsFile string
	// UserSeed is the secret part of the creds file.
	UserSeed string
	// UserJWT is the user's JWT (public, but bearer-like in effect).
	UserJWT string
}

// generateJWT writes dir/name.creds for a fresh operator → account → user
// chain and returns the operator config the server needs.
func generateJWT(dir, name string) (JWTAuth, error) {
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
	akp, ajwt, err := newAccount(okp, "FLEET", jwt.JetStreamLimits{MemoryStorage: -1, DiskStorage: -1, Streams: -1, Consumer: -1})
	if err != nil {
		return out, err
	}
	// A system account, so the server runs in full operator mode.
	skp, sjwt, err := newAccount(okp, "SYS", jwt.JetStreamLimits{})
	if err != nil {
		return out, err
	}
	spub, _ := skp.PublicKey()
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
		Operator:  natsdev.Operator{JWT: ojwt, Accounts: []string{ajwt, sjwt}, SystemAccount: spub},
		CredsFile: filepath.Join(dir, name+".creds"), UserSeed: string(useed), UserJWT: ujwt,
	}
	return out, os.WriteFile(out.CredsFile, creds, 0o600)
}

// newAccount creates an account signed by the operator okp, with the given
// JetStream limits (zero: no JetStream), and returns its key and JWT.
func newAccount(okp nkeys.KeyPair, name string, js jwt.JetStreamLimits) (nkeys.KeyPair, string, error) {
	kp, err := nkeys.CreateAccount()
	if err != nil {
		return nil, "", err
	}
	pub, _ := kp.PublicKey()
	c := jwt.NewAccountClaims(pub)
	c.Name = name
	c.Limits.JetStreamLimits = js
	token, err := c.Encode(okp)
	if err != nil {
		return nil, "", fmt.Errorf("%s account jwt: %w", name, err)
	}
	return kp, token, nil
}
