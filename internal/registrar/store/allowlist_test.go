package store_test

import (
	"context"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/landfall-io/landfall/internal/registrar/store"
	"github.com/landfall-io/landfall/internal/testkit"
)

func stringsReader(s string) io.Reader { return strings.NewReader(s) }

func TestAllowlistImport(t *testing.T) { testkit.EachBackend(t, tAllowlistImport) }

func tAllowlistImport(t *testing.T, backend testkit.Backend) {
	s, pool, _ := newStore(t, backend)
	ctx := context.Background()
	acme := mustManufacturer(t, s, "Acme")
	mustManufacturer(t, s, "Bolt")

	good, err := store.ParseAllowlistCSV(stringsReader("manufacturer,serial,note\nAcme,A-1,rack 1\nAcme,A-2,\nBolt,B-1,\"quoted, note\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.ImportAllowlist(ctx, good, "alice")
	if err != nil || res != (store.ImportResult{Added: 3}) {
		t.Fatalf("import: %+v %v", res, err)
	}
	before := testkit.Count(t, pool, "allowlist")
	events := testkit.Count(t, pool, "audit_events")

	long := strings.Repeat("x", store.MaxSerialLen+1)
	for _, tc := range []struct {
		name   string
		format string
		body   string
		rows   []store.RowError // nil: a whole-document error (ErrInvalid)
	}{
		{"csv bad rows", "csv",
			"manufacturer,serial,note\nAcme,A-3,ok\nNope,N-1,\nAcme,,\nAcme," + long + ",\nAcme,A-3,again\nAcme,A-4\n",
			[]store.RowError{
				{Line: 3, Reason: `unknown manufacturer "Nope"`},
				{Line: 4, Reason: "serial is empty"},
				{Line: 5, Reason: "serial is longer than 128 characters"},
				{Line: 6, Reason: "duplicate of line 2"},
				{Line: 7, Reason: "2 fields, want 3 (manufacturer,serial,note)"},
			}},
		{"csv broken quoting", "csv", "manufacturer,serial,note\nAcme,A-5,ok\nAcme,\"A-6,\n",
			[]store.RowError{{Line: 3, Reason: "malformed CSV: extraneous or missing \" in quoted-field"}}},
		{"csv wrong header", "csv", "serial,manufacturer\nA-1,Acme\n", nil},
		{"csv empty", "csv", "", nil},
		{"csv header only", "csv", "manufacturer,serial,note\n", nil},
		{"json bad rows", "json",
			`{"version":1,"entries":[{"manufacturer":"Acme","serial":"A-7"},{"manufacturer":"Acme","serial":""},{"manufacturer":"Zed","serial":"Z"},{"manufacturer":"Acme","serial":"A-7"},{"manufacturer":"Acme","serial":"A-8","extra":1}]}`,
			[]store.RowError{
				{Line: 2, Reason: "serial is empty"},
				{Line: 3, Reason: `unknown manufacturer "Zed"`},
				{Line: 4, Reason: "duplicate of line 1"},
				{Line: 5, Reason: `malformed entry: json: unknown field "extra"`},
			}},
		{"json wrong version", "json", `{"version":2,"entries":[{"manufacturer":"Acme","serial":"A-9"}]}`, nil},
		{"json no version", "json", `{"entries":[{"manufacturer":"Acme","serial":"A-9"}]}`, nil},
		{"json malformed", "json", `{"version":1,"entries":[`, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			parse := store.ParseAllowlistCSV
			if tc.format == "json" {
				parse = store.ParseAllowlistJSON
			}
			rows, err := parse(stringsReader(tc.body))
			if err == nil {
				_, err = s.ImportAllowlist(ctx, rows, "alice")
			}
			var ie *store.ImportError
			switch {
			case tc.rows == nil && (!errors.Is(err, store.ErrInvalid) || errors.As(err, &ie)):
				t.Errorf("want a whole-document ErrInvalid, got %v", err)
			case tc.rows != nil && !errors.As(err, &ie):
				t.Errorf("want *ImportError, got %v", err)
			case tc.rows != nil && !reflect.DeepEqual(ie.Rows, tc.rows):
				t.Errorf("rows:\n got %+v\nwant %+v", ie.Rows, tc.rows)
			}
			if n := testkit.Count(t, pool, "allowlist"); n != before {
				t.Errorf("allow-list has %d entries, want %d: a rejected import wrote", n, before)
			}
			if n := testkit.Count(t, pool, "audit_events"); n != events {
				t.Errorf("a rejected import left an audit event")
			}
		})
	}

	// JSON, re-importing a listed entry replaces its note.
	rows, err := store.ParseAllowlistJSON(stringsReader(`{"version":1,"entries":[{"manufacturer":"Acme","serial":"A-1","note":"rack 9"},{"manufacturer":"Bolt","serial":"B-2"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if res, err := s.ImportAllowlist(ctx, rows, "alice"); err != nil || res != (store.ImportResult{Added: 1, Updated: 1}) {
		t.Errorf("re-import: %+v %v", res, err)
	}

	for _, tc := range []struct {
		serial string
		want   bool
	}{{"A-1", true}, {"A-2", true}, {"B-1", false}, {"A-99", false}} {
		if ok, err := s.Allowed(ctx, acme.ID, tc.serial); err != nil || ok != tc.want {
			t.Errorf("Allowed(Acme, %s) = %v %v", tc.serial, ok, err)
		}
	}

	// Pages of two over four entries, then a filter.
	var all []store.AllowEntry
	cursor := ""
	for range 5 {
		p, err := s.ListAllowlist(ctx, store.AllowFilter{Limit: 2, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, p.Items...)
		if cursor = p.Next; cursor == "" {
			break
		}
	}
	if len(all) != 4 || all[0].Serial != "A-1" || all[0].Note != "rack 9" || all[0].Manufacturer != "Acme" || all[3].Serial != "B-2" {
		t.Errorf("paged list: %+v", all)
	}
	if p, err := s.ListAllowlist(ctx, store.AllowFilter{ManufacturerID: acme.ID}); err != nil || len(p.Items) != 2 || p.Next != "" {
		t.Errorf("filtered list: %+v %v", p, err)
	}
	if _, err := s.ListAllowlist(ctx, store.AllowFilter{Cursor: "!!"}); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("bad cursor: %v", err)
	}

	if err := s.DeleteAllowlistEntry(ctx, acme.ID, "A-2", "alice"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := s.Allowed(ctx, acme.ID, "A-2"); ok {
		t.Error("deleted entry still allowed")
	}
	if err := s.DeleteAllowlistEntry(ctx, acme.ID, "A-2", "alice"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("delete again: %v", err)
	}
}
