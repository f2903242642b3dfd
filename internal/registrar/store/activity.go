package store

import (
	"context"
	"time"
)

// ActivityCount is how many records of one kind fell in one minute: Kind
// is KindOnboarded (a certificate issued) or the Outcome of a voucher
// exchange.
type ActivityCount struct {
	Minute time.Time `json:"minute"`
	Kind   string    `json:"kind"`
	Count  int       `json:"count"`
}

// KindOnboarded counts certificates issued through EST (RFC 8995 5.9.3):
// the end of an onboarding.
const KindOnboarded = "onboarded"

// Activity counts, per minute of [since, until), the certificates issued
// and the voucher exchanges by outcome, from the registrar's own records
// (every replica's, since they share the tables): what the console's
// activity chart draws. It reads only rows in the window, grouped in the
// database, so an hour costs one scan of that hour's rows.
func (s *Store) Activity(ctx context.Context, since, until time.Time) ([]ActivityCount, error) {
	minute := s.sql("date_trunc('minute', created_at)", "substr(created_at, 1, 16) || ':00Z'")
	rows, err := s.db.Query(ctx, `SELECT `+minute+` AS m, '`+KindOnboarded+`', count(*) FROM certificates
		WHERE created_at >= $1 AND created_at < $2 GROUP BY m
		UNION ALL
		SELECT `+minute+` AS m, outcome, count(*) FROM voucher_exchanges
		WHERE created_at >= $1 AND created_at < $2 GROUP BY m, outcome
		ORDER BY 1, 2`, since, until)
	if err != nil {
		return nil, classify("activity", err)
	}
	defer rows.Close()
	var out []ActivityCount
	for rows.Next() {
		var a ActivityCount
		if err := rows.Scan(&a.Minute, &a.Kind, &a.Count); err != nil {
			return nil, classify("activity", err)
		}
		a.Minute = a.Minute.UTC()
		out = append(out, a)
	}
	return out, classify("activity", rows.Err())
}
