package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"time"
)

// adminCall sends one JSON request to an admin API with a bearer token and
// decodes the JSON answer into out (when not nil).
func adminCall(ctx context.Context, method, url, token string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %s: %s", method, url, resp.Status, bytes.TrimSpace(b))
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("%s %s: %w", method, url, err)
		}
	}
	return nil
}

// device is a device's IDevID files, as a factory line leaves them.
type device struct {
	Serial, Dir, Cert, Key string
	Subject, Issuer        string
}

// mintDevice does what a factory line does: the device makes its key and
// CSR, the MASA signs the IDevID (POST /admin/v1/idevids), and the files go
// to dir. Then sales records the sale to the owner named by its domain CA
// (POST /admin/v1/ownership/assign).
func mintDevice(ctx context.Context, masaAdmin, token, serial, dir string, ownerCA []byte) (*device, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{SerialNumber: serial}}, key)
	if err != nil {
		return nil, err
	}
	var issued struct {
		SerialNumber string `json:"serial_number"`
		Certificate  string `json:"certificate"`
	}
	err = adminCall(ctx, http.MethodPost, masaAdmin+"/admin/v1/idevids", token, map[string]any{
		"csr": string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: csr})), "serial_number": serial, "product": "demo",
	}, &issued)
	if err != nil {
		return nil, err
	}
	blk, _ := pem.Decode([]byte(issued.Certificate))
	if blk == nil {
		return nil, fmt.Errorf("MASA returned no PEM IDevID")
	}
	cert, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		return nil, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	d := &device{Serial: serial, Dir: dir, Cert: filepath.Join(dir, "idevid.crt"), Key: filepath.Join(dir, "idevid.key"),
		Subject: cert.Subject.String(), Issuer: cert.Issuer.String()}
	if err := writeFile(d.Cert, []byte(issued.Certificate), 0o644); err != nil {
		return nil, err
	}
	if err := writeFile(d.Key, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return nil, err
	}
	err = adminCall(ctx, http.MethodPost, masaAdmin+"/admin/v1/ownership/assign", token, map[string]any{
		"ca_cert": string(ownerCA), "serial_numbers": []string{serial},
	}, nil)
	if err != nil {
		return nil, err
	}
	return d, nil
}
