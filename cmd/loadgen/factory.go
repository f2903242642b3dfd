package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// factory mints IDevIDs through a MASA's factory API (POST
// /admin/v1/idevids, role factory) and sells the devices to an owner
// (POST /admin/v1/ownership/assign, role sales), as a production line and
// a sales system would.
type factory struct {
	adminURL            string
	factoryTok, saleTok string
	client              *http.Client
}

// mint has the MASA sign an IDevID for a fresh key with serial.
func (f *factory) mint(ctx context.Context, serial string) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{SerialNumber: serial, CommonName: serial}}, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	var out struct {
		Certificate string `json:"certificate"`
	}
	body := map[string]string{"csr": string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: csr}))}
	if err := f.call(ctx, "/admin/v1/idevids", f.factoryTok, body, &out); err != nil {
		return tls.Certificate{}, fmt.Errorf("minting %s: %w", serial, err)
	}
	blk, _ := pem.Decode([]byte(out.Certificate))
	if blk == nil {
		return tls.Certificate{}, fmt.Errorf("minting %s: no PEM certificate in the answer", serial)
	}
	leaf, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{blk.Bytes}, PrivateKey: key, Leaf: leaf}, nil
}

// sell assigns serials to the owner whose domain CA is ownerCA (PEM).
func (f *factory) sell(ctx context.Context, serials []string, ownerCA []byte) error {
	body := map[string]any{"serial_numbers": serials, "ca_cert": string(ownerCA)}
	return f.call(ctx, "/admin/v1/ownership/assign", f.saleTok, body, nil)
}

func (f *factory) call(ctx context.Context, path, token string, in, out any) error {
	b, err := json.Marshal(in)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(f.adminURL, "/")+path, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := f.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode >= 300 {
		return fmt.Errorf("MASA answered %d: %s", resp.StatusCode, strings.TrimSpace(string(answer)))
	}
	if out != nil {
		return json.Unmarshal(answer, out)
	}
	return nil
}
