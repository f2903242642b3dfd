package sandbox_test

import (
	"context"
	"io"
	"net/http"
	"testing"

	"github.com/landfall-io/landfall/internal/registrar/store"
	"github.com/landfall-io/landfall/internal/testkit/testdeploy"
)

// TestProfileNeedsAToken: a replica's CPU profile (/debug/pprof/profile on
// its admin listener) is refused without a token and with a wrong one,
// and given to an auditor.
func TestProfileNeedsAToken(t *testing.T) {
	ctx := context.Background()
	d := testdeploy.Start(t)
	url := d.Admin[0].URL + "/debug/pprof/profile?seconds=1"
	get := func(token string) (int, []byte) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	if code, _ := get(""); code != http.StatusUnauthorized {
		t.Fatalf("without a token: %d, want 401", code)
	}
	if code, _ := get("not-a-token"); code != http.StatusUnauthorized {
		t.Fatalf("with a wrong token: %d, want 401", code)
	}
	auditor, err := d.Store.CreateToken(ctx, "profiling", store.RoleAuditor, "test")
	if err != nil {
		t.Fatal(err)
	}
	if code, body := get(auditor); code != http.StatusOK || len(body) == 0 {
		t.Fatalf("with an auditor's token: %d, %d bytes", code, len(body))
	}
}
