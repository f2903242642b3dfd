package registrar

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"testing"
	"time"

	"github.com/landfall-io/landfall/internal/registrar/store"
	"github.com/landfall-io/landfall/pkg/voucher"
)

// The steps of requestvoucher.go against an in-memory store and a fake
// MASA, without PostgreSQL; the end-to-end tests run them against the real
// store and MASA.

var errStoreDown = fmt.Errorf("%w: connection refused", store.ErrUnavailable)

// fakeRecords is the part of Records the voucher steps use; a method the
// steps should not call panics (the embedded interface is nil).
type fakeRecords struct {
	Records
	pledge    store.Pledge
	allowed   bool
	touchErr  error
	stateErr  error
	recordErr error
	exchanges []store.Exchange
	states    []store.State
	decisions []store.Decision
}

func (f *fakeRecords) Touch(ctx context.Context, manufacturerID int64, serial string, idevidDER []byte) (*store.Pledge, error) {
	if f.touchErr != nil {
		return nil, f.touchErr
	}
	p := f.pledge
	return &p, nil
}

func (f *fakeRecords) Allowed(ctx context.Context, manufacturerID int64, serial string) (bool, error) {
	return f.allowed, nil
}

func (f *fakeRecords) Decide(ctx context.Context, ids []int64, d store.Decision, actor string) ([]store.Pledge, error) {
	f.decisions = append(f.decisions, d)
	p := f.pledge
	p.Decision, p.DecidedBy = d, actor
	return []store.Pledge{p}, nil
}

func (f *fakeRecords) SetState(ctx context.Context, id int64, s store.State) error {
	if f.stateErr != nil {
		return f.stateErr
	}
	f.states = append(f.states, s)
	return nil
}

func (f *fakeRecords) RecordExchange(ctx context.Context, e store.Exchange) (int64, error) {
	if f.recordErr != nil {
		return 0, f.recordErr
	}
	f.exchanges = append(f.exchanges, e)
	return int64(len(f.exchanges)), nil
}

func (f *fakeRecords) RecordIssued(ctx context.Context, e store.Exchange) (int64, error) {
	if f.recordErr != nil {
		return 0, f.recordErr
	}
	if f.stateErr != nil {
		return 0, f.stateErr
	}
	f.exchanges = append(f.exchanges, e)
	f.states = append(f.states, store.StateVoucherIssued)
	return int64(len(f.exchanges)), nil
}

// fakeMASA is a VoucherSource answering with voucher or err.
type fakeMASA struct {
	voucher        []byte
	err            error
	calls          int
	format, answer voucher.Format // of the last request
}

func (m *fakeMASA) RequestVoucher(ctx context.Context, masaURL string, anchor *x509.Certificate, request []byte, f, answer voucher.Format) ([]byte, error) {
	m.calls++
	m.format, m.answer = f, answer
	return m.voucher, m.err
}

func testRegistrar(rec *fakeRecords, masa VoucherSource, approval string) *Registrar {
	rg := &Registrar{
		cfg: Config{
			ReplicaID: "replica-test", Approval: approval, Now: func() time.Time { return time.Unix(1_800_000_000, 0) },
			MASARetryAfter: 45 * time.Second, ApprovalRetryAfter: 20 * time.Second,
		},
		log:   slog.New(slog.NewTextHandler(io.Discard, nil)),
		state: rec,
		masa:  masa,
	}
	rg.metrics = newMetrics(rg)
	return rg
}

func testPledgeRequest() *pledgeRequest {
	return &pledgeRequest{
		pledge: &Pledge{
			IDevID:       &x509.Certificate{Raw: []byte("idevid DER")},
			Manufacturer: store.Anchor{Manufacturer: store.Manufacturer{ID: 7, MASAURL: "masa.example"}},
			Serial:       "SN-1",
		},
		body:    []byte("pledge voucher-request CMS"),
		checked: &voucher.PledgeRequest{Request: &voucher.VoucherRequest{Artifact: voucher.Artifact{Nonce: "nonce-1"}}},
	}
}

// answerOf is what a device is answered for err: its status and
// Retry-After, by the method set every registrar error carries.
func answerOf(t *testing.T, err error) (int, time.Duration) {
	t.Helper()
	var sc interface{ StatusCode() int }
	if !errors.As(err, &sc) {
		t.Fatalf("error %v has no StatusCode", err)
	}
	var ra interface{ RetryAfter() time.Duration }
	if errors.As(err, &ra) {
		return sc.StatusCode(), ra.RetryAfter()
	}
	return sc.StatusCode(), 0
}

func TestRecordMASAFailure(t *testing.T) {
	cases := []struct {
		name        string
		err         error
		status      int
		retryAfter  time.Duration
		outcome     store.Outcome
		masaStatus  int
		notRecorded bool
	}{
		{"pending 202", &masaError{status: 202, reason: "MASA decision pending", retryAfter: time.Minute}, 202, time.Minute, store.OutcomeMASAPending, 202, false},
		{"busy 503 Retry-After", &masaError{status: 503, reason: "busy", retryAfter: 7 * time.Second}, 503, 7 * time.Second, store.OutcomeMASAUnreachable, 503, false},
		{"refused 403", &masaError{status: 403, reason: "not sold to you"}, 403, 0, store.OutcomeMASARefused, 403, false},
		{"refused 404", &masaError{status: 404, reason: "unknown device"}, 404, 0, store.OutcomeMASARefused, 404, false},
		{"5xx without Retry-After", &masaError{status: 500, reason: "oops"}, 502, 0, store.OutcomeMASARefused, 500, false},
		{"redirect", &masaError{status: 302, reason: "moved"}, 502, 0, store.OutcomeMASARefused, 302, false},
		{"unreachable", fmt.Errorf("%w: dial tcp: connection refused", errMASAUnreachable), 503, 45 * time.Second, store.OutcomeMASAUnreachable, 0, false},
		{"context cancelled", context.Canceled, 0, 0, "", 0, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := &fakeRecords{}
			rg := testRegistrar(rec, nil, ApprovalAuto)
			err := rg.recordMASAFailure(context.Background(), store.Exchange{PledgeID: 1}, tc.err)
			if tc.notRecorded {
				if !errors.Is(err, context.Canceled) || len(rec.exchanges) != 0 {
					t.Fatalf("cancelled request: err %v, %d exchanges recorded", err, len(rec.exchanges))
				}
				return
			}
			status, ra := answerOf(t, err)
			if status != tc.status || ra != tc.retryAfter {
				t.Errorf("answer %d Retry-After %v, want %d Retry-After %v", status, ra, tc.status, tc.retryAfter)
			}
			if len(rec.exchanges) != 1 {
				t.Fatalf("%d exchanges recorded, want 1", len(rec.exchanges))
			}
			if ex := rec.exchanges[0]; ex.Outcome != tc.outcome || ex.MASAStatus != tc.masaStatus || ex.Reason == "" {
				t.Errorf("recorded outcome %q MASA status %d reason %q, want %q %d", ex.Outcome, ex.MASAStatus, ex.Reason, tc.outcome, tc.masaStatus)
			}
		})
	}
	t.Run("store down while recording", func(t *testing.T) {
		rg := testRegistrar(&fakeRecords{recordErr: errStoreDown}, nil, ApprovalAuto)
		err := rg.recordMASAFailure(context.Background(), store.Exchange{}, &masaError{status: 403, reason: "no"})
		if status, ra := answerOf(t, err); status != 503 || ra != storeRetryAfter || !errors.Is(err, store.ErrUnavailable) {
			t.Fatalf("answer %d Retry-After %v (%v), want 503 with the store's Retry-After and cause", status, ra, err)
		}
	})
}

func TestAdmit(t *testing.T) {
	cases := []struct {
		name     string
		approval string
		pledge   store.Pledge
		allowed  bool
		touchErr error
		status   int // 0: admitted
		outcome  store.Outcome
		decided  bool
	}{
		{"auto approves", ApprovalAuto, store.Pledge{ID: 1, Decision: store.DecisionPending}, false, nil, 0, "", true},
		{"allow-list admits a listed pledge", ApprovalAllowList, store.Pledge{ID: 1, Decision: store.DecisionPending}, true, nil, 0, "", true},
		{"allow-list holds an unlisted pledge", ApprovalAllowList, store.Pledge{ID: 1, Decision: store.DecisionPending}, false, nil, 202, store.OutcomeHeld, false},
		{"manual holds", ApprovalManual, store.Pledge{ID: 1, Decision: store.DecisionPending}, false, nil, 202, store.OutcomeHeld, false},
		{"approved earlier", ApprovalManual, store.Pledge{ID: 1, Decision: store.DecisionApproved}, false, nil, 0, "", false},
		{"denied", ApprovalAuto, store.Pledge{ID: 1, Decision: store.DecisionDenied}, false, nil, 403, store.OutcomeDenied, false},
		{"store down", ApprovalAuto, store.Pledge{}, false, errStoreDown, 503, "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := &fakeRecords{pledge: tc.pledge, allowed: tc.allowed, touchErr: tc.touchErr}
			rg := testRegistrar(rec, nil, tc.approval)
			p, ex, err := rg.admit(context.Background(), testPledgeRequest())
			if tc.status == 0 {
				if err != nil || p == nil || p.Decision != store.DecisionApproved {
					t.Fatalf("not admitted: %v, %+v", err, p)
				}
				if ex.Nonce != "nonce-1" || ex.Replica != "replica-test" || len(ex.IDevIDSHA256) != 32 || len(rec.exchanges) != 0 {
					t.Errorf("exchange so far %+v, %d recorded", ex, len(rec.exchanges))
				}
			} else {
				status, ra := answerOf(t, err)
				if status != tc.status {
					t.Fatalf("answer %d (%v), want %d", status, err, tc.status)
				}
				if tc.status == 202 && ra != 20*time.Second {
					t.Errorf("held pledge told Retry-After %v, want the approval retry", ra)
				}
				if tc.outcome != "" && (len(rec.exchanges) != 1 || rec.exchanges[0].Outcome != tc.outcome) {
					t.Errorf("recorded %+v, want one %q exchange", rec.exchanges, tc.outcome)
				}
			}
			if decided := len(rec.decisions) == 1 && rec.decisions[0] == store.DecisionApproved; decided != tc.decided {
				t.Errorf("policy decision recorded %v, want %v", decided, tc.decided)
			}
		})
	}
}

func TestRelayToMASA(t *testing.T) {
	good := signedTestVoucher(t, "SN-1", "nonce-1")
	cases := []struct {
		name     string
		masaURL  string
		masa     *fakeMASA
		stateErr error
		status   int // 0: voucher passed on
		outcome  store.Outcome
		states   []store.State
	}{
		{"voucher issued", "masa.example", &fakeMASA{voucher: good}, nil, 0, store.OutcomeIssued, []store.State{store.StateVoucherRequested, store.StateVoucherIssued}},
		{"voucher for another serial", "masa.example", &fakeMASA{voucher: signedTestVoucher(t, "SN-2", "nonce-1")}, nil, 502, store.OutcomeRejected, []store.State{store.StateVoucherRequested}},
		{"voucher for another nonce", "masa.example", &fakeMASA{voucher: signedTestVoucher(t, "SN-1", "nonce-2")}, nil, 502, store.OutcomeRejected, []store.State{store.StateVoucherRequested}},
		{"not a voucher", "masa.example", &fakeMASA{voucher: []byte("garbage")}, nil, 502, store.OutcomeRejected, []store.State{store.StateVoucherRequested}},
		{"MASA pending", "masa.example", &fakeMASA{err: &masaError{status: 202, reason: "pending", retryAfter: time.Minute}}, nil, 202, store.OutcomeMASAPending, []store.State{store.StateVoucherRequested}},
		{"no MASA URL", "", &fakeMASA{voucher: good}, nil, 403, store.OutcomeMASARefused, nil},
		{"store down", "masa.example", &fakeMASA{voucher: good}, errStoreDown, 503, "", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := &fakeRecords{stateErr: tc.stateErr}
			rg := testRegistrar(rec, tc.masa, ApprovalAuto)
			pr := testPledgeRequest()
			pr.pledge.Manufacturer.MASAURL = tc.masaURL
			got, err := rg.relayToMASA(context.Background(), pr, &store.Pledge{ID: 1}, store.Exchange{PledgeID: 1, RegistrarRequest: []byte("rvr")})
			if tc.status == 0 {
				if err != nil || string(got) != string(good) {
					t.Fatalf("voucher not passed on: %v", err)
				}
			} else if status, _ := answerOf(t, err); status != tc.status {
				t.Fatalf("answer %d (%v), want %d", status, err, tc.status)
			}
			if fmt.Sprint(rec.states) != fmt.Sprint(tc.states) {
				t.Errorf("states %v, want %v", rec.states, tc.states)
			}
			if tc.outcome != "" && (len(rec.exchanges) != 1 || rec.exchanges[0].Outcome != tc.outcome) {
				t.Errorf("recorded %+v, want one %q exchange", rec.exchanges, tc.outcome)
			}
			if (tc.masaURL == "" || tc.stateErr != nil) && tc.masa.calls != 0 {
				t.Errorf("the MASA was asked %d times", tc.masa.calls)
			}
		})
	}
}

// signedTestVoucher is a CMS voucher for serial answering nonce; the
// registrar does not verify the MASA's signature (the pledge does), so a
// throwaway key signs it.
func signedTestVoucher(t *testing.T, serial, nonce string) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test MASA"}, NotBefore: time.Unix(1_700_000_000, 0), NotAfter: time.Unix(1_900_000_000, 0)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	v := &voucher.Voucher{Artifact: voucher.Artifact{CreatedOn: time.Unix(1_800_000_000, 0), Assertion: voucher.AssertionLogged, SerialNumber: serial, Nonce: nonce, PinnedDomainCert: der}}
	cms, err := (&voucher.Signer{Cert: cert, Key: key}).SignVoucher(v)
	if err != nil {
		t.Fatal(err)
	}
	return cms
}
