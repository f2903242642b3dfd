package sqlstore_test

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/landfall-io/landfall/internal/masa"
	"github.com/landfall-io/landfall/internal/masa/sqlstore"
)

// TestRoundTrip: what a store writes reads back equal on both backends —
// times to the microsecond in UTC, NULLs, byte strings, an event's JSON
// detail — and every list filter and cursor selects the same rows.
func TestRoundTrip(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *sqlstore.Store) {
		ctx := context.Background()
		at := time.Date(2026, 3, 4, 5, 6, 7, 123456000, time.FixedZone("x", 3600))
		d := masa.Device{SerialNumber: "R-1", Product: "widget", IDevID: []byte{0x30, 0}, Status: masa.DeviceActive, CreatedAt: at, UpdatedAt: at}
		if err := s.RegisterDevice(ctx, d, masa.AuditEvent{At: at, Actor: "cli:t", Action: "device.register", SerialNumber: "R-1",
			Detail: map[string]any{"product": "widget"}}); err != nil {
			t.Fatal(err)
		}
		if err := s.RegisterDevice(ctx, d, masa.AuditEvent{}); !errors.Is(err, masa.ErrDuplicate) {
			t.Errorf("second registration: %v", err)
		}
		if err := s.ImportDevices(ctx, []masa.Device{{SerialNumber: "R-2", Product: "gadget", CreatedAt: at, UpdatedAt: at},
			{SerialNumber: "R-3", Product: "widget", CreatedAt: at, UpdatedAt: at}}, masa.AuditEvent{}); err != nil {
			t.Fatal(err)
		}
		rec, err := s.DeviceRecord(ctx, "R-1")
		if err != nil {
			t.Fatal(err)
		}
		got := rec.Device
		if !got.CreatedAt.Equal(at) || !got.UpdatedAt.Equal(at) {
			t.Errorf("times read back %v, %v, want %v", got.CreatedAt, got.UpdatedAt, at)
		}
		got.CreatedAt, got.UpdatedAt = at, at
		if !reflect.DeepEqual(got, d) || rec.Owner != nil || rec.Policy != (masa.Policy{}) {
			t.Errorf("DeviceRecord = %+v, want %+v", rec, d)
		}

		o, err := s.CreateOwner(ctx, masa.Owner{Name: "example.net", CACert: []byte{1, 2}, CASHA256: []byte{9, 9}, DomainID: "dom", CreatedAt: at},
			masa.AuditEvent{At: at, Actor: "admin", Action: "owner.create"})
		if err != nil {
			t.Fatal(err)
		}
		if got, err := s.Owner(ctx, o.ID); err != nil || !got.CreatedAt.Equal(at) || got.DomainID != "dom" || len(got.CASHA256) != 2 {
			t.Errorf("Owner = %+v, %v", got, err)
		}
		if _, err := s.Owner(ctx, o.ID+1); !errors.Is(err, masa.ErrNotFound) {
			t.Errorf("unknown owner: %v", err)
		}
		if os, err := s.ListOwners(ctx); err != nil || len(os) != 1 || os[0].ID != o.ID {
			t.Errorf("ListOwners = %+v, %v", os, err)
		}
		if _, err := s.AssignOwner(ctx, masa.Selection{SerialNumbers: []string{"R-1", "R-3"}}, o.ID, masa.AuditEvent{At: at, Action: "ownership.assign"}); err != nil {
			t.Fatal(err)
		}
		if n, err := s.SetDeviceStatus(ctx, masa.Selection{From: "R-2", To: "R-3"}, masa.DeviceDisabled, masa.AuditEvent{At: at, Action: "device.disable"}); err != nil || n != 2 {
			t.Errorf("SetDeviceStatus = %d, %v", n, err)
		}
		if _, err := s.SetDeviceStatus(ctx, masa.Selection{SerialNumbers: []string{"R-9"}}, masa.DeviceDisabled, masa.AuditEvent{At: at, Action: "device.disable"}); !errors.Is(err, masa.ErrNotFound) {
			t.Errorf("SetDeviceStatus of an unknown device: %v", err)
		}
		for _, tc := range []struct {
			f    masa.DeviceFilter
			want []string
		}{
			{masa.DeviceFilter{Limit: 10}, []string{"R-1", "R-2", "R-3"}},
			{masa.DeviceFilter{Limit: 2}, []string{"R-1", "R-2"}},
			{masa.DeviceFilter{After: "R-1", Limit: 10}, []string{"R-2", "R-3"}},
			{masa.DeviceFilter{SerialNumber: "R-2", Limit: 10}, []string{"R-2"}},
			{masa.DeviceFilter{OwnerID: o.ID, Limit: 10}, []string{"R-1", "R-3"}},
			{masa.DeviceFilter{Status: "owned", Limit: 10}, []string{"R-1", "R-3"}},
			{masa.DeviceFilter{Status: "unowned", Limit: 10}, []string{"R-2"}},
			{masa.DeviceFilter{Status: masa.DeviceDisabled, Limit: 10}, []string{"R-2", "R-3"}},
			{masa.DeviceFilter{Status: masa.DeviceActive, Limit: 10}, []string{"R-1"}},
			{masa.DeviceFilter{Product: "widget", Limit: 10}, []string{"R-1", "R-3"}},
			{masa.DeviceFilter{Product: "none", Limit: 10}, []string{}},
		} {
			ds, err := s.ListDevices(ctx, tc.f)
			got := []string{}
			for _, d := range ds {
				got = append(got, d.SerialNumber)
			}
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Errorf("ListDevices(%+v) = %v, %v, want %v", tc.f, got, err, tc.want)
			}
		}

		nonce := "n-1"
		exp := at.Add(time.Hour)
		v1, err := s.RecordVoucher(ctx, masa.VoucherRecord{SerialNumber: "R-1", OwnerID: o.ID, DomainID: "dom", RequestSHA256: []byte{1},
			Nonce: &nonce, Assertion: "verified", RegistrarSubject: "CN=r", Voucher: []byte("cms"), IssuedAt: at}, nil)
		if err != nil {
			t.Fatal(err)
		}
		v2, err := s.RecordVoucher(ctx, masa.VoucherRecord{SerialNumber: "R-1", OwnerID: o.ID, DomainID: "dom", RequestSHA256: []byte{2},
			Assertion: "logged", ExpiresOn: &exp, RegistrarSubject: "CN=r", Voucher: []byte("cms2"), IssuedAt: at.Add(time.Second)}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.RecordVoucher(ctx, masa.VoucherRecord{SerialNumber: "R-1", OwnerID: o.ID, RequestSHA256: []byte{2},
			Assertion: "logged", Voucher: []byte{1}, IssuedAt: at}, nil); !errors.Is(err, masa.ErrDuplicate) {
			t.Errorf("same request twice: %v", err)
		}
		vr, err := s.VoucherByRequest(ctx, []byte{1})
		if err != nil || vr.ID != v1.ID || vr.Nonce == nil || *vr.Nonce != nonce || vr.ExpiresOn != nil || !vr.IssuedAt.Equal(at) || string(vr.Voucher) != "cms" {
			t.Errorf("VoucherByRequest = %+v, %v", vr, err)
		}
		if _, err := s.VoucherByRequest(ctx, []byte{3}); !errors.Is(err, masa.ErrNotFound) {
			t.Errorf("unknown request: %v", err)
		}
		vs, total, err := s.DeviceVouchers(ctx, "R-1", 1)
		if err != nil || total != 2 || len(vs) != 1 || vs[0].ID != v2.ID || vs[0].Nonce != nil || vs[0].ExpiresOn == nil || !vs[0].ExpiresOn.Equal(exp) {
			t.Errorf("DeviceVouchers = %+v, %d, %v", vs, total, err)
		}
		if vs, err := s.ListVouchers(ctx, masa.VoucherFilter{OwnerID: o.ID, After: v1.ID, Limit: 10}); err != nil || len(vs) != 1 || vs[0].ID != v2.ID {
			t.Errorf("ListVouchers after the first = %+v, %v", vs, err)
		}
		if vs, err := s.ListVouchers(ctx, masa.VoucherFilter{SerialNumber: "R-2", Limit: 10}); err != nil || len(vs) != 0 {
			t.Errorf("ListVouchers of R-2 = %+v, %v", vs, err)
		}

		evs, err := s.ListEvents(ctx, masa.EventFilter{SerialNumber: "R-1", Limit: 10})
		if err != nil || len(evs) != 1 {
			t.Fatalf("ListEvents of R-1 = %+v, %v", evs, err)
		}
		if e := evs[0]; e.Action != "device.register" || e.Actor != "cli:t" || !e.At.Equal(at) || e.Detail["product"] != "widget" {
			t.Errorf("event = %+v", e)
		}
		all, err := s.ListEvents(ctx, masa.EventFilter{Limit: 10})
		if err != nil || len(all) != 4 {
			t.Fatalf("ListEvents = %+v, %v", all, err)
		}
		if all[1].Action != "owner.create" || all[1].SerialNumber != "" || all[1].Detail["owner-id"] != float64(o.ID) {
			t.Errorf("owner event = %+v", all[1])
		}
		if rest, err := s.ListEvents(ctx, masa.EventFilter{After: all[2].ID, Limit: 10}); err != nil || len(rest) != 1 || rest[0].Detail["changed"] != float64(2) {
			t.Errorf("ListEvents after the third = %+v, %v", rest, err)
		}

		tok, err := s.CreateToken(ctx, masa.Token{Name: "a", Role: masa.RoleAuditor, SHA256: []byte("s"), CreatedAt: at})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.CreateToken(ctx, masa.Token{Name: "b", Role: masa.RoleAuditor, SHA256: []byte("s"), CreatedAt: at}); !errors.Is(err, masa.ErrDuplicate) {
			t.Errorf("token with the same secret: %v", err)
		}
		if err := s.RevokeToken(ctx, tok.ID, at.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		ts, err := s.ListTokens(ctx)
		if err != nil || len(ts) != 1 || ts[0].Role != masa.RoleAuditor || ts[0].RevokedAt == nil || !ts[0].RevokedAt.Equal(at.Add(time.Minute)) {
			t.Errorf("ListTokens = %+v, %v", ts, err)
		}
		if err := s.Ping(ctx); err != nil {
			t.Errorf("Ping: %v", err)
		}
	})
}
