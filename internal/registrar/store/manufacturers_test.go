package store_test

import (
	"context"
	"errors"
	"testing"

	"github.com/landfall-io/landfall/internal/registrar/store"
)

func TestManufacturers(t *testing.T) {
	s, pool, _ := newStore(t)
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
	if n := count(t, pool, "manufacturers"); n != 2 {
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
	if n := count(t, pool, "allowlist"); n != 0 {
		t.Errorf("allow-list entries survived their manufacturer: %d", n)
	}
	// create, create, update, import, delete: five audit events by alice.
	evs, err := s.ListEvents(ctx, store.EventFilter{})
	if err != nil || len(evs.Items) != 5 || evs.Items[0].Action != "manufacturer.delete" || evs.Items[0].Actor != "alice" {
		t.Errorf("audit: %+v %v", evs.Items, err)
	}
}
