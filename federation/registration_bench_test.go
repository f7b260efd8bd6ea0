package federation

import (
	"context"
	"net/http"
	"testing"

	"github.com/oidcfed/oidcfed/federation/federationtest"
	"github.com/oidcfed/oidcfed/session"
)

// BenchmarkResolveRegistered is what dynamic registration adds to every
// request once registered: finding the live registration beside the
// resolved provider, against a configured client.
func BenchmarkResolveRegistered(b *testing.B) {
	op := federationtest.New(b, federationtest.Options{Registration: true})
	op.AddClient(federationtest.Client{ID: "c", Secret: "s"})
	for _, tc := range []struct {
		name string
		pc   ProviderConfig
	}{
		{"static", ProviderConfig{Issuer: op.Issuer(), ClientID: "c", ClientSecret: "s"}},
		{"dynamic", ProviderConfig{Issuer: op.Issuer(), Registration: registrationDynamic}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			reg, err := NewRegistry(Config{Providers: map[string]ProviderConfig{"acme": tc.pc}})
			if err != nil {
				b.Fatal(err)
			}
			flows, _ := session.NewCookieStore(session.CookieConfig{Keys: [][]byte{make([]byte, 32)}})
			if _, err := NewHandler(HandlerConfig{Registry: reg, BaseURL: "http://127.0.0.1:1", Flows: flows,
				Accounts: SignInOrCreate{Store: NewMemoryAccounts()},
				OnLogin:  func(http.ResponseWriter, *http.Request, *Login) error { return nil }}); err != nil {
				b.Fatal(err)
			}
			p, _ := reg.Lookup("oidc:acme")
			ctx := context.Background()
			if _, err := p.signIn(ctx); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := p.signIn(ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
