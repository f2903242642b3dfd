package e2e_test

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// certified is how many devices named prefix-* hold a certificate in the
// registrar's certificates table.
func (d *deployment) certified(prefix string) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var n int
	err := d.registrarDB.QueryRow(ctx, `SELECT count(DISTINCT c.pledge_id) FROM certificates c
		JOIN pledges p ON p.id = c.pledge_id WHERE p.serial LIKE $1 || '-%'`, prefix).Scan(&n)
	return n, err
}

// waitCertified waits until at least n devices of prefix are certified:
// the load is under way.
func (d *deployment) waitCertified(t *testing.T, l *load, n int) {
	t.Helper()
	waitFor(t, fmt.Sprintf("%d certificates for %s", n, l.prefix), 90*time.Second, nil, func() (bool, string) {
		select {
		case <-l.done:
			t.Fatalf("loadgen %s ended before %d devices were certified: %v", l.prefix, n, l.err)
		default:
		}
		got, err := d.certified(l.prefix)
		return err == nil && got >= n, fmt.Sprintf("%d, %v", got, err)
	})
}

// tables is what the registrar's and the MASA's tables hold about the
// devices of one run.
type tables struct {
	pledges      int
	certificates int
	oncePerDev   int            // devices with exactly one certificate
	states       map[string]int // pledges by state
	outcomes     map[string]int // voucher exchanges by outcome
	halfWritten  int            // exchanges whose outcome and contents disagree
	uncovered    int            // certificates of a pledge without an issued voucher
	masaVouchers int            // vouchers the MASA recorded for the devices
	// stuck are the devices that hold a recorded certificate and
	// reported installing it, but whose pledge never moved to enrolled.
	stuck []string
}

func (d *deployment) tables(t *testing.T, prefix string) tables {
	t.Helper()
	ctx := context.Background()
	db := d.registrarDB
	tb := tables{states: map[string]int{}, outcomes: map[string]int{}}
	like := prefix + "-%"
	q := func(sql string, dst ...any) {
		t.Helper()
		if err := db.QueryRow(ctx, sql, like).Scan(dst...); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	q(`SELECT count(*) FROM pledges WHERE serial LIKE $1`, &tb.pledges)
	q(`SELECT count(*) FROM certificates c JOIN pledges p ON p.id = c.pledge_id WHERE p.serial LIKE $1`, &tb.certificates)
	q(`SELECT count(*) FROM (SELECT p.id FROM pledges p JOIN certificates c ON c.pledge_id = p.id
		WHERE p.serial LIKE $1 GROUP BY p.id HAVING count(*) = 1) x`, &tb.oncePerDev)
	q(`SELECT count(*) FROM voucher_exchanges e JOIN pledges p ON p.id = e.pledge_id WHERE p.serial LIKE $1
		AND ((e.outcome = 'issued') <> (e.voucher IS NOT NULL AND e.registrar_request IS NOT NULL))`, &tb.halfWritten)
	q(`SELECT count(*) FROM certificates c JOIN pledges p ON p.id = c.pledge_id WHERE p.serial LIKE $1
		AND NOT EXISTS (SELECT 1 FROM voucher_exchanges e WHERE e.pledge_id = p.id AND e.outcome = 'issued')`, &tb.uncovered)
	for _, g := range []struct {
		sql string
		m   map[string]int
	}{
		{`SELECT state, count(*) FROM pledges WHERE serial LIKE $1 GROUP BY state`, tb.states},
		{`SELECT e.outcome, count(*) FROM voucher_exchanges e JOIN pledges p ON p.id = e.pledge_id WHERE p.serial LIKE $1 GROUP BY e.outcome`, tb.outcomes},
	} {
		rows, err := db.Query(ctx, g.sql, like)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var k string
			var n int
			if err := rows.Scan(&k, &n); err != nil {
				t.Fatal(err)
			}
			g.m[k] = n
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
	}
	rows, err := db.Query(ctx, `SELECT p.serial FROM pledges p WHERE p.serial LIKE $1 AND p.state <> 'enrolled'
		AND EXISTS (SELECT 1 FROM certificates c WHERE c.pledge_id = p.id) ORDER BY p.serial`, like)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var serial string
		if err := rows.Scan(&serial); err != nil {
			t.Fatal(err)
		}
		tb.stuck = append(tb.stuck, serial)
	}
	rows.Close()
	if err := d.masaDB.QueryRow(ctx, `SELECT count(*) FROM vouchers WHERE serial_number LIKE $1`, like).Scan(&tb.masaVouchers); err != nil {
		t.Fatal(err)
	}
	return tb
}

// checkOnboardedOnce holds the tables of a run of n devices to "every
// device onboarded exactly once, nothing half-written".
func (d *deployment) checkOnboardedOnce(t *testing.T, prefix string, n int) tables {
	t.Helper()
	tb := d.tables(t, prefix)
	if tb.pledges != n || tb.certificates != n || tb.oncePerDev != n {
		t.Errorf("%s: %d pledges (%v), %d certificates, %d devices with exactly one; want %d of each",
			prefix, tb.pledges, tb.states, tb.certificates, tb.oncePerDev, n)
	}
	if len(tb.stuck) > 0 {
		// A certificate recorded without its state change: the database
		// or the replica died between the two writes, and the retry that
		// got the same certificate back did not move the pledge on.
		t.Errorf("%s: %d pledges hold a recorded certificate but are not enrolled (half-written): %v", prefix, len(tb.stuck), tb.stuck)
	} else if tb.states["enrolled"] != n {
		t.Errorf("%s: pledges by state %v; want all %d enrolled", prefix, tb.states, n)
	}
	if tb.halfWritten != 0 || tb.uncovered != 0 {
		t.Errorf("%s: %d voucher exchanges whose outcome disagrees with what they hold, %d certificates without an issued voucher",
			prefix, tb.halfWritten, tb.uncovered)
	}
	if tb.outcomes["issued"] < n || tb.masaVouchers < tb.outcomes["issued"] {
		t.Errorf("%s: %d issued voucher exchanges at the registrar, %d vouchers at the MASA; want at least %d, and the MASA's at least the registrar's",
			prefix, tb.outcomes["issued"], tb.masaVouchers, n)
	}
	return tb
}
