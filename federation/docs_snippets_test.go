package federation_test

// The Go snippets of docs/, verbatim between their markers, so that the
// compiler checks them (TestDocsCode). The code around the markers only
// gives them the variables they use.

import (
	"context"
	"crypto"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/oidcfed/oidcfed/federation"
)

func docsBearer(ctx context.Context, reg *federation.Registry, raw string) error {
	// bearer:begin
	b, err := federation.NewBearer(reg, federation.BearerConfig{Scopes: []string{"reports:read"}})
	if err != nil {
		return err // a BearerConfig problem, at start-up
	}
	p, err := b.Verify(ctx, raw) // *federation.Principal or *federation.Error
	// bearer:end
	_ = p
	return err
}

func docsRefresh(ctx context.Context, reg *federation.Registry, stored federation.Tokens) {
	// refresh:begin
	p, _ := reg.Lookup("oidc:acme")
	tokens, err := p.Refresh(ctx, stored) // stored: the Tokens from sign-in (or the last refresh)
	var fe *federation.Error
	if errors.As(err, &fe) && fe.Code == federation.CodeLoginRequired {
		// the refresh token expired, was revoked or already used: sign the user in again
	}
	// refresh:end
	_ = tokens
}

func docsRefresher(ctx context.Context, p *federation.Provider, result *federation.Result) {
	// tokenSource:begin
	src := p.Refresher(result.Tokens)
	t, err := src.Token(ctx) // refreshes when within federation.RefreshMargin (30 s) of Expiry
	// tokenSource:end
	_, _ = t, err
}

// hostSession is what a host keeps of a sign-in, for the logout snippet.
type hostSession struct {
	Provider string            // Login.Provider
	IDToken  federation.Secret // Login.Result.Tokens.IDToken
}

func docsLogoutURL(ctx context.Context, handler *federation.Handler, session hostSession, state string) {
	// logoutURL:begin
	u, err := handler.LogoutURL(ctx, session.Provider, federation.LogoutRequest{
		IDTokenHint:           session.IDToken.Reveal(), // the ID token from sign-in
		PostLogoutRedirectURI: "/",                      // a path here, or an allowed URL
		State:                 state,                    // returned to the post-logout URI
		UILocales:             []string{"fr-CA", "en"},
	})
	// end your own session first, then redirect to u; on ErrNoEndSession, only your session ends
	// logoutURL:end
	_, _ = u, err
}

// hostSessions is a host's session store, for the back-channel snippet.
type hostSessions interface {
	EndMatching(ctx context.Context, provider, subject, sid string) error
}

func docsOnLogout(sessions hostSessions) {
	// onLogout:begin
	h, err := federation.NewHandler(federation.HandlerConfig{
		// ...
		OnLogout: func(ctx context.Context, e federation.LogoutEvent) error {
			// end every session of e.Provider whose subject is e.Subject or whose
			// provider session is e.SID (keep Result.SID from sign-in for this)
			return sessions.EndMatching(ctx, e.Provider, e.Subject, e.SID)
		},
	})
	// onLogout:end
	_, _ = h, err
}

func docsLoopback(ctx context.Context, p *federation.Provider) {
	// loopback:begin
	res, err := p.LoopbackLogin(ctx, federation.LoopbackConfig{
		Port: 0, // any free port; or a fixed one such as 8301 if the provider needs an exact URI
		Open: func(u string) error { fmt.Println("open", u); return nil },
	})
	// loopback:end
	_, _ = res, err
}

func docsDevice(ctx context.Context, p *federation.Provider) error {
	// device:begin
	d, err := p.StartDevice(ctx) // §3.1–3.2
	if err != nil {
		return err
	}
	fmt.Printf("open %s and enter %s\n", d.VerificationURI, d.UserCode)
	res, err := p.PollDevice(ctx, d) // §3.4–3.5
	// device:end
	_ = res
	return err
}

// docsTenantDB is a table of tenants, for the source snippet.
type docsTenantDB interface {
	Tenant(ctx context.Context, name string) (issuer, clientID, secret string, found bool, err error)
	TenantsByIssuer(ctx context.Context, iss string) ([]string, error)
}

// source:begin
// tenants serves providers from the application's tenant table.
type tenants struct{ db docsTenantDB }

func (t tenants) Provider(ctx context.Context, name string) (federation.ProviderConfig, error) {
	iss, clientID, secret, found, err := t.db.Tenant(ctx, name)
	switch {
	case err != nil:
		return federation.ProviderConfig{}, err // 502 now; asked again next time
	case !found:
		return federation.ProviderConfig{}, federation.ErrNoProvider // remembered for a minute
	}
	return federation.ProviderConfig{Issuer: iss, ClientID: clientID, ClientSecret: federation.Secret(secret)}, nil
}

// ProvidersByIssuer makes tenants an IssuerSource: bearer tokens of tenants
// not loaded yet are verified too.
func (t tenants) ProvidersByIssuer(ctx context.Context, iss string) ([]string, error) {
	return t.db.TenantsByIssuer(ctx, iss)
}

// source:end

func docsSource(db docsTenantDB) (*federation.Registry, error) {
	// sourceRegistry:begin
	reg, err := federation.NewRegistry(federation.Config{},
		federation.WithProviderSource(federation.SourceConfig{Source: tenants{db}, TTL: 10 * time.Minute}))
	// sourceRegistry:end
	return reg, err
}

func docsClientKMS(kmsSigner crypto.Signer) (federation.ProviderConfig, error) {
	// clientKMS:begin
	// kmsSigner is any crypto.Signer: a cloud KMS key, an HSM through
	// PKCS#11, or a key in memory. Its private part never reaches oidcfed.
	key, err := federation.NewClientKey(kmsSigner, "") // kid: the RFC 7638 thumbprint
	if err != nil {
		return federation.ProviderConfig{}, err // not RSA ≥ 2048 bits or EC P-256
	}
	pc := federation.ProviderConfig{
		Issuer: "https://idp.example.com", ClientID: "app",
		TokenEndpointAuthMethod: "private_key_jwt", ClientKey: key,
	}
	// clientKMS:end
	return pc, nil
}

func docsClientCertificate() (federation.ProviderConfig, error) {
	// clientCertificate:begin
	cert, err := tls.LoadX509KeyPair("/etc/app/client.crt", "/etc/app/client.key")
	if err != nil {
		return federation.ProviderConfig{}, err
	}
	key, err := federation.NewClientCertificate(cert, "")
	if err != nil {
		return federation.ProviderConfig{}, err // the certificate is not for the key, …
	}
	pc := federation.ProviderConfig{
		Issuer: "https://idp.example.com", ClientID: "app",
		TokenEndpointAuthMethod: "tls_client_auth", ClientKey: key,
	}
	// clientCertificate:end
	return pc, nil
}

func docsStepUp(h *federation.Handler) http.Handler {
	mux := http.NewServeMux()
	// stepUp:begin
	// Before a payment, ask for a second factor, and a sign-in of at most
	// five minutes ago. OnLogin sees Login.Result.Authentication (acr,
	// amr, auth_time); the callback has already refused an ID token
	// without the acr asked for (access_denied) or an older auth_time
	// (login_required).
	mux.HandleFunc("GET /pay/confirm", func(w http.ResponseWriter, r *http.Request) {
		h.Start(w, r, "oidc:acme", federation.StartOptions{
			RedirectTo: "/pay",
			ACRValues:  []string{"urn:okta:loa:2fa:any"},
			MaxAge:     5 * time.Minute,
		})
	})
	// stepUp:end
	return mux
}
