package federation

import (
	"context"
	"testing"
	"time"
)

func TestProvidersOfOneIssuerShareOneKeySet(t *testing.T) {
	o := newTenantOP(t)
	reg, err := NewRegistry(Config{Providers: map[string]ProviderConfig{
		"web": {Issuer: o.issuer(0), ClientID: "c", ClientSecret: "s"},
		"cli": {Issuer: o.issuer(0), ClientID: "c2", ClientSecret: "s", Audiences: []string{"c"}},
	}}, WithHTTPClient(o.srv.Client()))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var sets []*resolved
	for _, key := range []string{"oidc:web", "oidc:cli"} {
		p, _ := reg.Lookup(key)
		st, err := p.resolve(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.bearer[o.issuer(0)].Verify(ctx, o.token(t, 0, time.Now())); err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		sets = append(sets, st)
	}
	if sets[0].keys != sets[1].keys || sets[0].md != sets[1].md {
		t.Fatal("two providers of one issuer hold two key sets or documents")
	}
	if d, k := o.discovery.Load(), o.keys.Load(); d != 1 || k != 1 {
		t.Fatalf("%d discovery and %d JWKS fetches, want 1 and 1", d, k)
	}
	reg.Remove("web")
	if n := reg.keySets.len(); n != 1 {
		t.Fatalf("%d key sets after removing one of two users, want 1", n)
	}
	reg.Remove("cli")
	if n, c := reg.keySets.len(), reg.cache.Len(); n != 0 || c != 0 {
		t.Fatalf("%d key sets and %d documents after removing both providers, want none", n, c)
	}
}
