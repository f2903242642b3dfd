package atls

import (
	"bufio"
	"context"
	"io"
	"net/http"

	"bytes"
	"crypto"
	"crypto/hkdf"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"github.com/landfall-io/landfall/pkg/oscore"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The interop tests run testdata/openssl_pledge.py, a pledge whose TLS is
// OpenSSL's, against the Go server. They fail (they do not skip) when
// python3 is missing: scripts/deps.sh installs it.

type interopResult struct {
	Protocol      string `json:"protocol"`
	Cipher        string `json:"cipher"`
	Peer          string `json:"peer"`
	InnerResponse string `json:"inner_response"`
	ServerCID     string `json:"server_cid"`
}

func runOpenSSLPledge(t *testing.T, h *harness, mode, suite string) (interopResult, string) {
	t.Helper()
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Fatal("python3 not found; run scripts/deps.sh")
	}
	ca, cert, key := h.pki.writePEM(t, h.pki.client)
	dir := t.TempDir()
	keylog := filepath.Join(dir, "keylog")
	conf := filepath.Join(dir, "openssl.cnf")
	// OpenSSL's TLS 1.3 suite is chosen by configuration; Python has no API.
	cnf := "openssl_conf = c\n[c]\nssl_conf = s\n[s]\nsystem_default = d\n[d]\nCiphersuites = " + suite + "\n"
	if err := os.WriteFile(conf, []byte(cnf), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(python, "testdata/openssl_pledge.py", h.ts.URL+DefaultPath, ca, cert, key, mode, keylog)
	cmd.Env = append(os.Environ(), "OPENSSL_CONF="+conf)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("openssl pledge: %v\n%s", err, stderr.String())
	}
	var res interopResult
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("openssl pledge output %q: %v", out, err)
	}
	return res, keylog
}

func TestInteropOpenSSLRecordsMode(t *testing.T) {
	h := newHarness(t, nil)
	res, _ := runOpenSSLPledge(t, h, ProtoRecords, "TLS_AES_128_GCM_SHA256")
	if res.Protocol != ProtoRecords || res.Peer != "registrar.example" {
		t.Fatalf("result %+v", res)
	}
	if !strings.HasPrefix(res.InnerResponse, "HTTP/1.1 200 OK\r\n") ||
		!strings.HasSuffix(res.InnerResponse, "\r\n\r\npledge-0001 POST /interop?x=1 openssl") ||
		!strings.Contains(res.InnerResponse, "Content-Length: 37\r\n") {
		t.Fatalf("inner response %q", res.InnerResponse)
	}
}

// TestInteropOpenSSLKeyExport checks the key export against OpenSSL for each
// TLS 1.3 suite: the Go server's stored Master Secret and Salt must equal
// TLS-Exporter computed here, independently of crypto/tls, from the
// exporter secret OpenSSL logged (RFC 8446 7.5).
func TestInteropOpenSSLKeyExport(t *testing.T) {
	for _, suite := range []string{"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"} {
		for _, mode := range []string{ProtoOSCORE, ProtoCOSE} {
			t.Run(mode+"/"+suite, func(t *testing.T) {
				store := &oscore.MemoryStore{}
				h := newHarness(t, func(c *ServerConfig) { c.Sink = nil; c.Contexts = store })
				store.Now = h.clock.Now
				res, keylog := runOpenSSLPledge(t, h, mode, suite)
				if res.Protocol != mode || res.Cipher != suite {
					t.Fatalf("result %+v", res)
				}
				cid, _ := hex.DecodeString(res.ServerCID)
				sc, err := store.Get(context.Background(), cid)
				if err != nil {
					t.Fatalf("no context stored for server CID %s: %v", res.ServerCID, err)
				}
				if !bytes.Equal(sc.Params.SenderID, []byte{1}) || tlsSuiteName(sc.TLSSuite) != suite {
					t.Fatalf("context %x %s", sc.Params.SenderID, tlsSuiteName(sc.TLSSuite))
				}
				p := SuiteTable[sc.TLSSuite]
				secret := exporterSecret(t, keylog)
				km := tlsExporter(p.Hash, secret, mode, 2*p.KeyLen)
				if !bytes.Equal(sc.Params.MasterSecret, km[:p.KeyLen]) || !bytes.Equal(sc.Params.MasterSalt, km[p.KeyLen:]) {
					t.Fatal("exported master secret/salt differ from OpenSSL's exporter")
				}
				cb := tlsExporter(p.Hash, secret, ChannelBindingLabel, 32)
				if !bytes.Equal(sc.ChannelBinding, cb) {
					t.Fatal("tls-exporter channel binding differs from OpenSSL's")
				}
				// The pledge's side of the context, built from OpenSSL's
				// exporter alone, talks to the Go server in this suite.
				ec := &ExportedContext{Protocol: mode, Suite: p, MasterSecret: km[:p.KeyLen], MasterSalt: km[p.KeyLen:],
					SenderID: cid, RecipientID: []byte{1}}
				sess := &ClientSession{client: h.client(), exported: ec}
				tr, err := sess.Transport()
				if err != nil {
					t.Fatal(err)
				}
				resp, err := (&http.Client{Transport: tr}).Post("https://registrar.example/after-openssl", "text/plain", strings.NewReader(suite))
				if err != nil {
					t.Fatal(err)
				}
				got, _ := io.ReadAll(resp.Body)
				if string(got) != "pledge-0001 POST /after-openssl "+suite {
					t.Fatalf("protected request in %s: %q", suite, got)
				}
			})
		}
	}
}

func exporterSecret(t *testing.T, keylog string) []byte {
	f, err := os.Open(keylog)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 3 && fields[0] == "EXPORTER_SECRET" {
			b, err := hex.DecodeString(fields[2])
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
	}
	t.Fatal("no EXPORTER_SECRET in the key log")
	return nil
}

// tlsExporter is RFC 8446 7.5 written out from the RFC: HKDF-Expand-Label(
// Derive-Secret(secret, label, ""), "exporter", Hash(""), length).
func tlsExporter(h crypto.Hash, secret []byte, label string, length int) []byte {
	empty := h.New().Sum(nil)
	derived := expandLabel(h, secret, label, empty, h.Size())
	return expandLabel(h, derived, "exporter", empty, length)
}

func expandLabel(h crypto.Hash, secret []byte, label string, context []byte, length int) []byte {
	var info []byte
	info = binary.BigEndian.AppendUint16(info, uint16(length))
	info = append(info, byte(len("tls13 "+label)))
	info = append(info, "tls13 "+label...)
	info = append(info, byte(len(context)))
	info = append(info, context...)
	out, err := hkdf.Expand(h.New, secret, string(info), length)
	if err != nil {
		panic(err)
	}
	return out
}

func tlsSuiteName(id uint16) string {
	return map[uint16]string{0x1301: "TLS_AES_128_GCM_SHA256", 0x1302: "TLS_AES_256_GCM_SHA384", 0x1303: "TLS_CHACHA20_POLY1305_SHA256"}[id]
}
