package enroll_test

import (
	"context"
	"log"
	"net/http"
	"time"

	"github.com/landfall-io/landfall/pkg/enroll"
)

// The registrar's wiring: an embedded CA from files made by the init step,
// a name policy and a CSR policy from configuration, the authorization callback and the
// issuance recorder, mounted on the device port.
func ExampleNewServer() {
	ca, err := enroll.NewEmbeddedCA(enroll.EmbeddedConfig{
		RootFile:      "/etc/landfall/ca/root_ca.crt",
		IssuerFile:    "/etc/landfall/ca/issuing_ca.crt",
		IssuerKeyFile: "/etc/landfall/ca/issuing_ca.key",
		Profile:       enroll.IssuanceProfile{Validity: 90 * 24 * time.Hour},
	})
	if err != nil {
		log.Fatal(err)
	}
	// Devices are named serialNumber=<serial> plus a DNS name derived
	// from it; a CSR asking for any other name is refused.
	dns, err := enroll.ParseNameTemplate(enroll.NameDNS, "{{ .SerialNumber }}.devices.example.net")
	if err != nil {
		log.Fatal(err)
	}
	srv, err := enroll.NewServer(ca,
		enroll.WithNamePolicy(enroll.SerialNumberNames(dns)),
		enroll.WithCSRPolicy(&enroll.CSRPolicy{
			RequireSerialNumber:   true,
			RequireChannelBinding: true,
			KeyTypes:              []enroll.KeyType{enroll.KeyECP256},
		}),
		enroll.WithPolicy(func(ctx context.Context, req *enroll.AuthzRequest) error {
			// Look the IDevID up: voucher accepted? operator approved?
			if req.Peer.Leaf().Subject.SerialNumber == "" {
				return enroll.ErrForbidden("unknown device")
			}
			return nil // or enroll.ErrPending(time.Minute, "awaiting approval")
		}),
		enroll.WithIssuedHook(func(ctx context.Context, rec *enroll.Issuance) error {
			log.Printf("issued %s to %s until %s", rec.SerialNumber, rec.Subject, rec.NotAfter)
			return nil // store it; an error withholds the certificate
		}),
	)
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/.well-known/est/", srv)
}
