package sqlstore_test

import (
	"context"
	"testing"

	"github.com/landfall-io/landfall/internal/masa"
	"github.com/landfall-io/landfall/internal/masa/sqlstore"
)

// TestOwnersByAnchor: owners are found by their CA certificate's SHA-256
// or by their domainID, never by anything else, and an empty lookup finds
// none.
func TestOwnersByAnchor(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *sqlstore.Store) {
		ctx := context.Background()
		var ids []int64
		for i, name := range []string{"a", "b", "c"} {
			o, err := s.CreateOwner(ctx, masa.Owner{Name: name, CACert: []byte{byte(i)}, CASHA256: []byte("sha-" + name),
				DomainID: "id-" + name, CreatedAt: now}, masa.AuditEvent{})
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, o.ID)
		}
		for _, tc := range []struct {
			name string
			shas [][]byte
			dids []string
			want []int64
		}{
			{"nothing asked", nil, nil, nil},
			{"by SHA-256", [][]byte{[]byte("sha-b"), []byte("sha-x")}, nil, []int64{ids[1]}},
			{"by domainID", nil, []string{"id-c", "id-x"}, []int64{ids[2]}},
			{"by either", [][]byte{[]byte("sha-a")}, []string{"id-c"}, []int64{ids[0], ids[2]}},
			{"a domainID is not a SHA-256", [][]byte{[]byte("id-a")}, []string{"sha-a"}, nil},
		} {
			got, err := s.OwnersByAnchor(ctx, tc.shas, tc.dids)
			if err != nil {
				t.Fatal(err)
			}
			var gotIDs []int64
			for _, o := range got {
				gotIDs = append(gotIDs, o.ID)
				if len(o.CACert) != 1 || o.DomainID == "" {
					t.Errorf("%s: owner %+v incomplete", tc.name, o)
				}
			}
			if len(gotIDs) != len(tc.want) {
				t.Errorf("%s: owners %v, want %v", tc.name, gotIDs, tc.want)
				continue
			}
			for i := range gotIDs {
				if gotIDs[i] != tc.want[i] {
					t.Errorf("%s: owners %v, want %v", tc.name, gotIDs, tc.want)
				}
			}
		}
	})
}
