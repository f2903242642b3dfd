package store_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/landfall-io/landfall/internal/registrar/store"
	"github.com/landfall-io/landfall/internal/testkit"
)

func TestManufacturers(t *testing.T) { testkit.EachBackend(t, tManufacturers) }

func tManufacturers(t *testing.T, backend testkit.Backend) {
	s, pool, _ := newStore(t, backend)
	ctx := context.Background()
	anchor, masaAnchor := selfSigned(t, "Acme IDevID CA"), selfSigned(t, "Acme MASA CA")

	acme, err := s.CreateManufacturer(ctx, store.Manufacturer{Name: "Acme", IDevIDAnchor: anchor,
		MASAURL: "https://masa.acme.example", MASAAnchor: masaAnchor, SerialField: store.SerialFieldHardwareModuleName}, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if acme.ID == 0 || acme.SerialField != "hardwareModuleName" || acme.MASAURL != "https://masa.acme.example" || !acme.CreatedAt.Equal(testStart) {
		t.Errorf("created %+v", acme)
	}
	other := mustManufacturer(t, s, "Bolt")
	if other.SerialField != store.SerialFieldSerialNumber || other.MASAURL != "" || other.MASAAnchor != nil {
		t.Errorf("defaults: %+v", other)
	}

	for _, tc := range []struct {
		name string
		m    store.Manufacturer
		want error
	}{
		{"taken name", store.Manufacturer{Name: "Acme", IDevIDAnchor: anchor}, store.ErrConflict},
		{"empty name", store.Manufacturer{IDevIDAnchor: anchor}, store.ErrInvalid},
		{"anchor not a certificate", store.Manufacturer{Name: "X", IDevIDAnchor: []byte("nope")}, store.ErrInvalid},
		{"MASA anchor not a certificate", store.Manufacturer{Name: "X", IDevIDAnchor: anchor, MASAAnchor: []byte{1}}, store.ErrInvalid},
		{"plain http MASA", store.Manufacturer{Name: "X", IDevIDAnchor: anchor, MASAURL: "http://masa"}, store.ErrInvalid},
		{"unknown serial field", store.Manufacturer{Name: "X", IDevIDAnchor: anchor, SerialField: "uid"}, store.ErrInvalid},
	} {
		if _, err := s.CreateManufacturer(ctx, tc.m, "alice"); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	if n := testkit.Count(t, pool, "manufacturers"); n != 2 {
		t.Errorf("%d manufacturers after rejected creates", n)
	}

	got, err := s.GetManufacturer(ctx, acme.ID)
	if err != nil || got.Name != "Acme" || string(got.MASAAnchor) != string(masaAnchor) {
		t.Errorf("get: %+v %v", got, err)
	}
	var nf *store.NotFoundError
	if _, err := s.GetManufacturer(ctx, 999); !errors.As(err, &nf) || nf.Kind != "manufacturer" || nf.Key != "999" {
		t.Errorf("get unknown: %v", err)
	}
	list, err := s.ListManufacturers(ctx)
	if err != nil || len(list) != 2 || list[0].Name != "Acme" || list[1].Name != "Bolt" {
		t.Errorf("list: %+v %v", list, err)
	}

	upd := *other
	upd.Name, upd.MASAURL = "Bolt Inc", "https://masa.bolt.example/brski"
	if u, err := s.UpdateManufacturer(ctx, upd, "alice"); err != nil || u.Name != "Bolt Inc" || u.MASAURL != upd.MASAURL {
		t.Errorf("update: %+v %v", u, err)
	}
	upd.Name = "Acme"
	if _, err := s.UpdateManufacturer(ctx, upd, "alice"); !errors.Is(err, store.ErrConflict) {
		t.Errorf("update to a taken name: %v", err)
	}
	upd.ID = 999
	if _, err := s.UpdateManufacturer(ctx, upd, "alice"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("update unknown: %v", err)
	}

	anchors, err := s.Anchors(ctx)
	if err != nil || len(anchors) != 2 {
		t.Fatalf("anchors: %v %v", anchors, err)
	}
	if anchors[0].IDevID.Subject.CommonName != "Acme IDevID CA" || anchors[0].MASA.Subject.CommonName != "Acme MASA CA" || anchors[1].MASA != nil {
		t.Errorf("anchors parsed wrong: %+v", anchors)
	}

	// A manufacturer with pledges cannot go; one with only allow-list
	// entries can, and takes them along.
	mustPledge(t, s, acme.ID, "A-1")
	if err := s.DeleteManufacturer(ctx, acme.ID, "alice"); !errors.Is(err, store.ErrConflict) {
		t.Errorf("delete with pledges: %v", err)
	}
	rows, _ := store.ParseAllowlistCSV(stringsReader("manufacturer,serial,note\nBolt Inc,B-1,\n"))
	if _, err := s.ImportAllowlist(ctx, rows, "alice"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteManufacturer(ctx, other.ID, "alice"); err != nil {
		t.Errorf("delete: %v", err)
	}
	if err := s.DeleteManufacturer(ctx, other.ID, "alice"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("delete again: %v", err)
	}
	if n := testkit.Count(t, pool, "allowlist"); n != 0 {
		t.Errorf("allow-list entries survived their manufacturer: %d", n)
	}
	// create, create, update, import, delete: five audit events by alice.
	evs, err := s.ListEvents(ctx, store.EventFilter{})
	if err != nil || len(evs.Items) != 5 || evs.Items[0].Action != "manufacturer.delete" || evs.Items[0].Actor != "alice" {
		t.Errorf("audit: %+v %v", evs.Items, err)
	}
}

// TestManufacturerLDevIDTemplates: LDevID name templates (issue 11 item 2)
// are checked before they are stored, on create and on update: they must
// parse, render a valid name of their kind for a sample serial (no
// wildcard, an absolute URI) and depend on the serial. A refused template
// changes nothing.
func TestManufacturerLDevIDTemplates(t *testing.T) {
	testkit.EachBackend(t, tManufacturerLDevIDTemplates)
}

func tManufacturerLDevIDTemplates(t *testing.T, backend testkit.Backend) {
	s, pool, _ := newStore(t, backend)
	ctx := context.Background()
	anchor := selfSigned(t, "Cobalt IDevID CA")
	m, err := s.CreateManufacturer(ctx, store.Manufacturer{Name: "Cobalt", IDevIDAnchor: anchor,
		LDevIDDNSTemplate: "{{.SerialNumber}}.devices.example.net", LDevIDURITemplate: "urn:dev:serial:{{.SerialNumber}}"}, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if m.LDevIDDNSTemplate != "{{.SerialNumber}}.devices.example.net" || m.LDevIDURITemplate != "urn:dev:serial:{{.SerialNumber}}" {
		t.Errorf("created %+v", m)
	}
	for _, tc := range []struct{ name, dns, uri string }{
		{"template syntax", "{{.SerialNumber", ""},
		{"unknown field", "{{.Serial}}.example.net", ""},
		{"wildcard", "*.{{.SerialNumber}}.example.net", ""},
		{"constant DNS name", "registrar.example.net", ""},
		{"relative URI", "", "devices/{{.SerialNumber}}"},
		{"constant URI", "", "urn:dev:registrar"},
		{"too long", strings.Repeat("a", 490) + ".{{.SerialNumber}}", ""},
	} {
		bad := store.Manufacturer{Name: "Bad " + tc.name, IDevIDAnchor: anchor, LDevIDDNSTemplate: tc.dns, LDevIDURITemplate: tc.uri}
		if _, err := s.CreateManufacturer(ctx, bad, "alice"); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("create with %s: %v, want ErrInvalid", tc.name, err)
		}
		upd := *m
		upd.LDevIDDNSTemplate, upd.LDevIDURITemplate = tc.dns, tc.uri
		if _, err := s.UpdateManufacturer(ctx, upd, "alice"); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("update with %s: %v, want ErrInvalid", tc.name, err)
		}
	}
	if n := testkit.Count(t, pool, "manufacturers"); n != 1 {
		t.Errorf("%d manufacturers after rejected creates", n)
	}
	var dns, uri *string
	if err := pool.QueryRow(ctx, `SELECT ldevid_dns_template, ldevid_uri_template FROM manufacturers WHERE id = $1`, m.ID).Scan(&dns, &uri); err != nil {
		t.Fatal(err)
	}
	if dns == nil || *dns != m.LDevIDDNSTemplate || uri == nil || *uri != m.LDevIDURITemplate {
		t.Errorf("stored templates %v %v after rejected updates", dns, uri)
	}

	anchors, err := s.Anchors(ctx)
	if err != nil || len(anchors) != 1 || len(anchors[0].NameTemplates) != 2 {
		t.Fatalf("anchors %+v %v", anchors, err)
	}
	if got, err := anchors[0].NameTemplates[0].Render("SN7"); err != nil || got != "SN7.devices.example.net" {
		t.Errorf("DNS template renders %q %v", got, err)
	}

	// Clearing the templates stores NULL.
	upd := *m
	upd.LDevIDDNSTemplate, upd.LDevIDURITemplate = "", ""
	if u, err := s.UpdateManufacturer(ctx, upd, "alice"); err != nil || u.LDevIDDNSTemplate != "" || u.LDevIDURITemplate != "" {
		t.Fatalf("clear: %+v %v", u, err)
	}
	if err := pool.QueryRow(ctx, `SELECT ldevid_dns_template, ldevid_uri_template FROM manufacturers WHERE id = $1`, m.ID).Scan(&dns, &uri); err != nil || dns != nil || uri != nil {
		t.Errorf("cleared templates stored as %v %v (%v)", dns, uri, err)
	}
}
