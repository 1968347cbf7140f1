// Package s3test starts a real S3-compatible server (versitygw, POSIX
// backend) on 127.0.0.1 for integration tests, and gives tests the
// independent tools (aws CLI, b3sum) to cross-check what airlift did.
//
// The server binary is found in $VERSITYGW, on PATH, or in .tools/bin of
// the repository (where `make tools` installs it). Without it the tests
// that need it are skipped, unless AIRLIFT_REQUIRE_S3=1 (set by make test
// and CI), in which case they fail: CI must never pass by skipping.
package s3test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/airlift-io/airlift/internal/s3client"
)

// Test credentials: the server is private to the test and bound to
// loopback.
const (
	AccessKey = "airlifttestkey"
	SecretKey = "airlifttestsecret1234"
)

// Server is a running versitygw.
type Server struct {
	URL     string // http(s)://127.0.0.1:PORT
	Root    string // POSIX backend directory: each bucket is a folder, each object a file
	CACert  string // PEM of the self-signed certificate when TLS
	keyPEM  string // its key, for proxies that pose as the server
	cmd     *exec.Cmd
	logPath string
	// AccessKey and SecretKey are the server's root credentials.
	AccessKey, SecretKey string
}

// Options for Start.
type Options struct {
	TLS bool
	// AccessKey and SecretKey replace the default credentials, for a
	// second server that must not accept the first one's (a migration
	// between two stores).
	AccessKey, SecretKey string
}

// Binary returns the versitygw path, or "" when there is none.
func Binary() string {
	if p := os.Getenv("VERSITYGW"); p != "" {
		return p
	}
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p
	}
	if root := repoRoot(); root != "" {
		p := filepath.Join(root, ".tools", "bin", "versitygw")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

// Require skips or fails t when a tool is missing, by the rule above.
func Require(t testing.TB, what, path string) {
	t.Helper()
	if path != "" {
		return
	}
	if os.Getenv("AIRLIFT_REQUIRE_S3") == "1" {
		t.Fatalf("%s is required (AIRLIFT_REQUIRE_S3=1) but was not found; run `make tools`", what)
	}
	t.Skipf("%s not found; run `make tools` (or set AIRLIFT_REQUIRE_S3=1 to make this a failure)", what)
}

func repoRoot() string {
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// Start runs a fresh server for the test and stops it at cleanup.
func Start(t testing.TB, o Options) *Server {
	t.Helper()
	bin := Binary()
	Require(t, "versitygw", bin)
	dir := t.TempDir()
	s := &Server{Root: filepath.Join(dir, "data"), logPath: filepath.Join(dir, "versitygw.log"), AccessKey: AccessKey, SecretKey: SecretKey}
	if o.AccessKey != "" {
		s.AccessKey, s.SecretKey = o.AccessKey, o.SecretKey
	}
	if err := os.MkdirAll(s.Root, 0o755); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	env := append(os.Environ(), "ROOT_ACCESS_KEY_ID="+s.AccessKey, "ROOT_SECRET_ACCESS_KEY="+s.SecretKey)
	scheme := "http"
	if o.TLS {
		scheme = "https"
		cert, key := selfSigned(t, dir)
		s.CACert, s.keyPEM = cert, key
		env = append(env, "VGW_CERT="+cert, "VGW_KEY="+key)
	}
	s.URL = scheme + "://" + addr
	logf, err := os.Create(s.logPath)
	if err != nil {
		t.Fatal(err)
	}
	s.cmd = exec.Command(bin, "--port", addr, "--quiet", "--health", "/health", "--keep-alive", "posix", s.Root)
	s.cmd.Env = env
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("starting versitygw: %v", err)
	}
	t.Cleanup(func() {
		_ = s.cmd.Process.Kill()
		_, _ = s.cmd.Process.Wait()
		logf.Close()
	})
	hc := &http.Client{Timeout: time.Second, Transport: insecureTransport()}
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := hc.Get(s.URL + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(s.logPath)
			t.Fatalf("versitygw did not become healthy at %s: %v\n%s", s.URL, err, log)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return s
}

// Env returns the environment for a subprocess (airlift, aws CLI) that
// talks to s: credentials in the standard variables, nothing else
// inherited that could point elsewhere.
func (s *Server) Env() []string {
	ak, sk := s.keys()
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "AWS_") {
			continue
		}
		env = append(env, kv)
	}
	env = append(env,
		"AWS_ACCESS_KEY_ID="+ak, "AWS_SECRET_ACCESS_KEY="+sk,
		"AWS_REGION=us-east-1", "AWS_DEFAULT_REGION=us-east-1",
		"AWS_EC2_METADATA_DISABLED=true", "AWS_PAGER=",
		"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null")
	if s.CACert != "" {
		env = append(env, "AWS_CA_BUNDLE="+s.CACert)
	}
	return env
}

// keys are the server's credentials; a Server made by hand (around a
// test's own fake server) has the default ones.
func (s *Server) keys() (string, string) {
	if s.AccessKey == "" {
		return AccessKey, SecretKey
	}
	return s.AccessKey, s.SecretKey
}

// SetEnv puts the server's credentials into this process's environment
// for the test's duration (for in-process clients).
func (s *Server) SetEnv(t *testing.T) {
	ak, sk := s.keys()
	t.Setenv("AWS_ACCESS_KEY_ID", ak)
	t.Setenv("AWS_SECRET_ACCESS_KEY", sk)
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_CONFIG_FILE", "/dev/null")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
	t.Setenv("AWS_PROFILE", "")
}

// Client returns an airlift-configured client for s.
func (s *Server) Client(t *testing.T) *s3client.Client {
	t.Helper()
	s.SetEnv(t)
	c, err := s3client.New(context.Background(), s3client.Options{EndpointURL: s.URL, CABundle: s.CACert, MaxAttempts: 3})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// CreateBucket makes a bucket.
func (s *Server) CreateBucket(t *testing.T, name string) {
	t.Helper()
	c := s.Client(t)
	if _, err := c.S3.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		t.Fatalf("CreateBucket %s: %v", name, err)
	}
}

// ObjectPath is where the POSIX backend keeps an object's bytes.
func (s *Server) ObjectPath(bucket, key string) string {
	return filepath.Join(s.Root, bucket, filepath.FromSlash(key))
}

func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func insecureTransport() *http.Transport {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig.InsecureSkipVerify = true //nolint:gosec // health probe of our own test server
	return tr
}

// selfSigned writes a certificate for 127.0.0.1 and its key.
func selfSigned(t testing.TB, dir string) (certPath, keyPath string) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: "127.0.0.1"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certPath, keyPath = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certPath, keyPath
}
