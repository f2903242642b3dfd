package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/landfall-io/landfall/internal/cli"
	"github.com/landfall-io/landfall/internal/pemfile"
	"github.com/landfall-io/landfall/internal/registrar/store"
)

// operatorCommand runs the operator subcommands that work on the database
// directly, for hosts without an HTTP client: pledge list|approve|deny and
// manufacturer add|list. The admin API offers the same and more.
func operatorCommand(ctx context.Context, noun string, args []string, stdout io.Writer, getenv func(string) string) error {
	if len(args) == 0 {
		return fmt.Errorf("usage: registrar %s <verb> [options]", noun)
	}
	verb, args := args[0], args[1:]
	fs := newFlagSet(noun+" "+verb, "usage: registrar "+noun+" "+verb+" [options] [ids...]", stdout)
	dsn, stateDir := storeFlags(fs)
	actor := fs.String("actor", "cli:"+getenv("USER"), "who is acting, for the audit trail")
	decision := fs.String("decision", "", "pledge list: only pledges with this decision (pending, approved, denied)")
	name := fs.String("name", "", "manufacturer add: its name")
	anchor := fs.String("idevid-anchor", "", "manufacturer add: PEM file of the CA its IDevIDs chain to")
	masaURL := fs.String("masa-url", "", "manufacturer add: MASA URL overriding the IDevIDs' MASA URL extension")
	masaAnchor := fs.String("masa-anchor", "", "manufacturer add: PEM file of the only CA the MASA's TLS certificate may chain to")
	dnsTemplate := fs.String("ldevid-dns-template", "", "manufacturer add: DNS name of its pledges' domain certificates, from the serial, e.g. {{.SerialNumber}}.devices.example.net (default: none)")
	uriTemplate := fs.String("ldevid-uri-template", "", "manufacturer add: URI of its pledges' domain certificates, from the serial, e.g. urn:dev:serial:{{.SerialNumber}} (default: none)")
	if err := cli.Parse(fs, args, envPrefix, getenv); err != nil {
		return err
	}
	db, done, err := openOperatorStore(ctx, *dsn, *stateDir)
	if err != nil {
		return err
	}
	defer done()
	s := store.New(db)
	out := json.NewEncoder(stdout)
	out.SetIndent("", "  ")
	switch noun + " " + verb {
	case "pledge list":
		page, err := s.ListPledges(ctx, store.PledgeFilter{Decision: store.Decision(*decision), Limit: store.MaxLimit})
		if err != nil {
			return err
		}
		return out.Encode(page.Items)
	case "pledge approve", "pledge deny":
		d := store.DecisionApproved
		if verb == "deny" {
			d = store.DecisionDenied
		}
		var ids []int64
		for _, a := range fs.Args() {
			id, err := strconv.ParseInt(a, 10, 64)
			if err != nil {
				return fmt.Errorf("pledge id %q: %w", a, err)
			}
			ids = append(ids, id)
		}
		if len(ids) == 0 {
			return errors.New("name the pledge ids to decide")
		}
		changed, err := s.Decide(ctx, ids, d, *actor)
		if err != nil {
			return err
		}
		return out.Encode(changed)
	case "manufacturer add":
		if *name == "" || *anchor == "" {
			return errors.New("--name and --idevid-anchor are required")
		}
		m := store.Manufacturer{Name: *name, MASAURL: *masaURL, LDevIDDNSTemplate: *dnsTemplate, LDevIDURITemplate: *uriTemplate}
		if m.IDevIDAnchor, err = readPEMCert(*anchor); err != nil {
			return err
		}
		if *masaAnchor != "" {
			if m.MASAAnchor, err = readPEMCert(*masaAnchor); err != nil {
				return err
			}
		}
		created, err := s.CreateManufacturer(ctx, m, *actor)
		if err != nil {
			return err
		}
		return out.Encode(created)
	case "manufacturer list":
		ms, err := s.ListManufacturers(ctx)
		if err != nil {
			return err
		}
		return out.Encode(ms)
	}
	return fmt.Errorf("unknown command %q", noun+" "+verb)
}

// readPEMCert returns the DER of the first certificate in a PEM file.
func readPEMCert(path string) ([]byte, error) {
	c, err := pemfile.Cert(path)
	if err != nil {
		return nil, err
	}
	return c.Raw, nil
}
