package store_test

import (
	"bytes"
	"testing"

	"github.com/landfall-io/landfall/internal/registrar/store"
)

// FuzzParseAllowlist feeds untrusted import bodies to both parsers: they
// must not panic, and every row they return must carry a line number.
func FuzzParseAllowlist(f *testing.F) {
	for _, seed := range []string{
		"manufacturer,serial,note\nAcme,A-1,x\n",
		"manufacturer,serial,note\nAcme,\"A,1\",\"multi\nline\"\nAcme\n",
		"manufacturer,serial,note\nAcme,\"A-6,\n",
		"\ufeffmanufacturer,serial,note\r\nAcme,A-1,\r\n",
		`{"version":1,"entries":[{"manufacturer":"Acme","serial":"A-1"},{"serial":5}]}`,
		`{"version":1,"entries":null}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, parse := range []func([]byte) ([]store.ImportRow, error){
			func(b []byte) ([]store.ImportRow, error) { return store.ParseAllowlistCSV(bytes.NewReader(b)) },
			func(b []byte) ([]store.ImportRow, error) { return store.ParseAllowlistJSON(bytes.NewReader(b)) },
		} {
			rows, err := parse(body)
			if err != nil && rows != nil {
				t.Fatalf("rows and an error: %v", err)
			}
			for _, r := range rows {
				if r.Line < 1 {
					t.Fatalf("row without a line: %+v", r)
				}
			}
		}
	})
}
