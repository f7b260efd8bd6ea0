package federation_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/oidcfed/oidcfed/discovery"
	"github.com/oidcfed/oidcfed/federation"
	"github.com/oidcfed/oidcfed/federation/federationtest"
	"github.com/oidcfed/oidcfed/internal/clock"
)

const (
	tenantA = "11111111-2222-3333-4444-555555555555"
	tenantB = "66666666-7777-8888-9999-000000000000"
)

// signInFails signs in and checks that it ends at "/" with code, and that
// an error matching each of causes (errors.Is; an errString by its text)
// was logged.
func signInFails(t *testing.T, r *rp, code federation.Code, causes ...error) {
	t.Helper()
	resp := r.signIn(newBrowser(t), "/")
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || loc.Path != "/" || federation.Code(loc.Query().Get("error")) != code {
		t.Fatalf("final response %d to %q, want error=%s; logs:\n%s", resp.StatusCode, loc, code, r.logs)
	}
	for _, cause := range causes {
		if r.errs.count(cause) == 0 {
			t.Fatalf("no logged error matches %q:\n%s", cause, r.logs)
		}
	}
	if r.loginCount() != 0 {
		t.Fatal("OnLogin was called")
	}
}

// entraRP is a relying party for a multi-tenant Entra-like provider: the
// test OP serves the {tenantid} issuer template, and each ID token's iss
// and tid come from claims.
func entraRP(t *testing.T, allowed []string, claims func(c map[string]any)) *rp {
	r := newRPWith(t, rpOptions{provider: func(pc *federation.ProviderConfig) {
		pc.Preset, pc.DiscoveryURL = "entra", pc.Issuer+"/.well-known/openid-configuration"
		pc.Issuer += "/organizations/v2.0"
		pc.AllowedTenants = allowed
	}})
	issuer := r.op.Issuer()
	r.op.Misbehave(federationtest.Misbehavior{
		Discovery: func(doc map[string]any) {
			doc["issuer"] = issuer + "/{tenantid}/v2.0"
			delete(doc, "authorization_response_iss_parameter_supported") // Entra does not send iss
		},
		AuthorizationResponse: func(q url.Values) { q.Del("iss") },
		IDTokenClaims:         claims,
	})
	return r
}

func tenantClaims(issuer, issTenant, tid string) func(map[string]any) {
	return func(c map[string]any) {
		c["iss"] = issuer + "/" + issTenant + "/v2.0"
		if tid != "" {
			c["tid"] = tid
		}
	}
}

func TestEntraMultiTenantSignIn(t *testing.T) {
	t.Run("an allowed tenant signs in with its own issuer", func(t *testing.T) {
		var issuer string
		r := entraRP(t, []string{tenantA}, func(c map[string]any) { tenantClaims(issuer, tenantA, tenantA)(c) })
		issuer = r.op.Issuer()
		if resp := r.signIn(newBrowser(t), "/"); resp.Header.Get("Location") != "/" || r.loginCount() != 1 {
			t.Fatalf("sign-in ended at %q; logs:\n%s", resp.Header.Get("Location"), r.logs)
		}
		u := r.logins[0].Result.User
		if u.Issuer != issuer+"/"+tenantA+"/v2.0" || u.Subject != "alice" {
			t.Fatalf("user = %+v", u)
		}
		if u.EmailVerified {
			t.Fatal("email_verified true was believed without xms_edov")
		}
	})
	t.Run("xms_edov true verifies the email", func(t *testing.T) {
		var issuer string
		r := entraRP(t, nil, func(c map[string]any) {
			tenantClaims(issuer, tenantB, tenantB)(c)
			c["xms_edov"] = true
		})
		issuer = r.op.Issuer()
		if r.signIn(newBrowser(t), "/"); r.loginCount() != 1 || !r.logins[0].Result.User.EmailVerified {
			t.Fatalf("sign-in: %d logins; logs:\n%s", r.loginCount(), r.logs)
		}
	})
	tests := []struct {
		name             string
		allowed          []string
		issTenant, tid   string
		code             federation.Code
		cause            error
		keepIssuerAsRoot bool
	}{
		{"a tenant not in allowedTenants", []string{tenantA}, tenantB, tenantB, federation.CodeAccessDenied, federation.ErrTenantNotAllowed, false},
		{"an iss of one tenant with the tid of another", nil, tenantA, tenantB, federation.CodeInvalidToken, discovery.ErrTokenIssuer, false},
		{"an allowed tenant's iss on a disallowed tid", []string{tenantA}, tenantA, tenantB, federation.CodeInvalidToken, discovery.ErrTokenIssuer, false},
		{"no tid", nil, tenantA, "", federation.CodeInvalidToken, discovery.ErrMissingClaim, false},
		{"a tid that is not a tenant ID", nil, "common", "common", federation.CodeInvalidToken, discovery.ErrInvalidClaim, false},
		{"the template itself as iss", nil, "{tenantid}", tenantA, federation.CodeInvalidToken, discovery.ErrTokenIssuer, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var issuer string
			r := entraRP(t, tt.allowed, func(c map[string]any) { tenantClaims(issuer, tt.issTenant, tt.tid)(c) })
			issuer = r.op.Issuer()
			signInFails(t, r, tt.code, tt.cause)
		})
	}
}

// TestEntraMultiTenantBackchannelLogout: a logout token from a tenant
// outside allowedTenants is refused before OnLogout, and an allowed one
// is reported with its own issuer, not the {tenantid} template.
func TestEntraMultiTenantBackchannelLogout(t *testing.T) {
	r := entraRP(t, []string{tenantA}, nil)
	p, _ := r.reg.Lookup("oidc:acme")
	token := func(tenant string) string {
		return r.op.LogoutToken("client-1", "alice", "", func(c map[string]any) {
			c["iss"], c["tid"] = r.op.Issuer()+"/"+tenant+"/v2.0", tenant
		})
	}
	ev, err := p.VerifyLogoutToken(context.Background(), token(tenantA))
	if err != nil || ev.Issuer != r.op.Issuer()+"/"+tenantA+"/v2.0" || ev.Subject != "alice" {
		t.Fatalf("allowed tenant: %+v, %v; want the tenant's own issuer", ev, err)
	}
	_, err = p.VerifyLogoutToken(context.Background(), token(tenantB))
	if !errors.Is(err, federation.ErrTenantNotAllowed) {
		t.Fatalf("a tenant outside allowedTenants: %v, want ErrTenantNotAllowed", err)
	}
}

func TestEntraMultiTenantBearer(t *testing.T) {
	r := entraRP(t, []string{tenantA}, nil)
	b, err := federation.NewBearer(r.reg, federation.BearerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	token := func(issTenant, tid string) string {
		now := time.Now()
		return r.op.SignJWT("JWT", map[string]any{"iss": r.op.Issuer() + "/" + issTenant + "/v2.0", "tid": tid, "sub": "alice",
			"aud": "client-1", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()})
	}
	p, err := b.Verify(context.Background(), token(tenantA, tenantA))
	if err != nil || p.User.Issuer != r.op.Issuer()+"/"+tenantA+"/v2.0" || p.User.Provider != "oidc:acme" {
		t.Fatalf("allowed tenant: %+v, %v", p, err)
	}
	for _, tc := range []struct {
		name           string
		issTenant, tid string
		want           error
	}{
		{"a disallowed tenant", tenantB, tenantB, federation.ErrTenantNotAllowed},
		{"a spoofed tid", tenantA, tenantB, discovery.ErrTokenIssuer},
		{"a spoofed iss", tenantB, tenantA, discovery.ErrTokenIssuer},
	} {
		if _, err := b.Verify(context.Background(), token(tc.issTenant, tc.tid)); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
}

func TestRequiredACRAndMaxAge(t *testing.T) {
	c := clock.NewFake(time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC))
	newRP := func(t *testing.T, claims func(map[string]any)) *rp {
		r := newRPWith(t, rpOptions{now: c.Now, provider: func(pc *federation.ProviderConfig) {
			pc.RequiredACR, pc.MaxAge = []string{"urn:mfa", "urn:hwk"}, 300
		}})
		r.op.SetClock(c.Now)
		r.op.Misbehave(federationtest.Misbehavior{IDTokenClaims: claims})
		return r
	}
	fresh := func(acr string, age time.Duration) func(map[string]any) {
		return func(m map[string]any) {
			if acr != "" {
				m["acr"] = acr
			}
			m["auth_time"] = c.Now().Add(-age).Unix()
		}
	}
	t.Run("the authorization request asks for them", func(t *testing.T) {
		r := newRP(t, fresh("urn:mfa", 0))
		q := startQuery(t, r, "")
		if q.Get("acr_values") != "urn:mfa urn:hwk" || q.Get("max_age") != "300" {
			t.Fatalf("authorization query %v", q)
		}
	})
	t.Run("a fresh authentication with a required acr signs in", func(t *testing.T) {
		r := newRP(t, fresh("urn:hwk", 300*time.Second+time.Minute)) // at maxAge plus the leeway
		if r.signIn(newBrowser(t), "/"); r.loginCount() != 1 {
			t.Fatalf("logs:\n%s", r.logs)
		}
	})
	for _, tc := range []struct {
		name   string
		code   federation.Code
		cause  error
		claims func(map[string]any)
	}{
		{"another acr", federation.CodeAccessDenied, federation.ErrACR, fresh("urn:pwd", 0)},
		{"no acr", federation.CodeAccessDenied, federation.ErrACR, fresh("", 0)},
		{"an old authentication", federation.CodeLoginRequired, federation.ErrAuthTooOld, fresh("urn:mfa", 361*time.Second)},
		{"no auth_time", federation.CodeLoginRequired, federation.ErrAuthTooOld, func(m map[string]any) {
			m["acr"] = "urn:mfa"
			delete(m, "auth_time")
		}},
		{"a string auth_time", federation.CodeLoginRequired, federation.ErrAuthTooOld, func(m map[string]any) {
			m["acr"], m["auth_time"] = "urn:mfa", "1700000000"
		}},
	} {
		t.Run(tc.name, func(t *testing.T) { signInFails(t, newRP(t, tc.claims), tc.code, tc.cause) })
	}
}

// startQuery starts a sign-in with Accept: application/json, checks the
// 200 {"url"} answer, and returns the authorization URL's query.
func startQuery(t *testing.T, r *rp, query string) url.Values {
	t.Helper()
	req, _ := http.NewRequest("GET", r.srv.URL+"/auth/oauth/oidc:acme"+query, nil)
	req.Header.Set("Accept", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct{ URL string }
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != 200 || !strings.HasPrefix(body.URL, r.op.Issuer()+"/authorize?") {
		t.Fatalf("JSON start: %d %+v %v", resp.StatusCode, body, err)
	}
	u, _ := url.Parse(body.URL)
	return u.Query()
}

func TestAuthParamsAndLoginHint(t *testing.T) {
	r := newRPWith(t, rpOptions{provider: func(pc *federation.ProviderConfig) {
		pc.AuthParams = map[string]string{"prompt": "select_account", "domain_hint": "example.com"}
	}})
	q := startQuery(t, r, "?login_hint="+url.QueryEscape("alice@example.com"))
	if q.Get("prompt") != "select_account" || q.Get("domain_hint") != "example.com" || q.Get("login_hint") != "alice@example.com" ||
		q.Get("code_challenge_method") != "S256" || q.Has("acr_values") || q.Has("max_age") {
		t.Fatalf("authorization query %v", q)
	}
	resp, _ := http.Get(r.srv.URL + "/auth/oauth/oidc:acme?login_hint=" + url.QueryEscape("a\r\nb"))
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("a login_hint with a line break: %d, want 400", resp.StatusCode)
	}
	resp, _ = http.Get(r.srv.URL + "/auth/oauth/oidc:acme?login_hint=" + strings.Repeat("a", federation.MaxLoginHint+1))
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("a long login_hint: %d, want 400", resp.StatusCode)
	}
}

func TestAllowedEmailDomains(t *testing.T) {
	for _, tc := range []struct {
		name   string
		user   federationtest.User
		signIn bool
	}{
		{"a verified email in the domain", federationtest.User{Subject: "u1", Email: "u1@Example.com", EmailVerified: true}, true},
		{"an unverified email in the domain", federationtest.User{Subject: "u2", Email: "u2@example.com"}, false},
		{"a verified email elsewhere", federationtest.User{Subject: "u3", Email: "u3@example.org", EmailVerified: true}, false},
		{"a subdomain", federationtest.User{Subject: "u4", Email: "u4@eu.example.com", EmailVerified: true}, false},
		{"no email", federationtest.User{Subject: "u5"}, false},
		{"ASCII capitals fold", federationtest.User{Subject: "u6", Email: "u6@EXAMPLE.COM", EmailVerified: true}, true},
		// strings.ToLower would make U+212A KELVIN SIGN a k: "Kexample.com" is another domain.
		{"a Kelvin sign does not fold to k", federationtest.User{Subject: "u7", Email: "u7@Kexample.com", EmailVerified: true}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRPWith(t, rpOptions{provider: func(pc *federation.ProviderConfig) { pc.AllowedEmailDomains = []string{"example.com", "kexample.com"} }})
			r.op.SetUsers(tc.user)
			if !tc.signIn {
				signInFails(t, r, federation.CodeAccessDenied, federation.ErrEmailDomain)
				return
			}
			if r.signIn(newBrowser(t), "/"); r.loginCount() != 1 {
				t.Fatalf("logs:\n%s", r.logs)
			}
		})
	}
}

func TestFrontendAndRedirectURL(t *testing.T) {
	r := newRPWith(t, rpOptions{provider: func(pc *federation.ProviderConfig) {
		pc.FrontendURL = "https://acme.app.example.com/home"
	}})
	// No redirectTo: the sign-in lands at the tenant's frontend.
	resp := newBrowser(t).get(r.srv.URL+"/auth/oauth/oidc:acme", func(u *url.URL) bool { return u.Host == "acme.app.example.com" })
	if resp.Header.Get("Location") != "https://acme.app.example.com/home" || r.loginCount() != 1 {
		t.Fatalf("landed at %q; logs:\n%s", resp.Header.Get("Location"), r.logs)
	}
	// The frontend's origin and path are allowed for this provider only.
	for to, ok := range map[string]bool{
		"https://acme.app.example.com/home/settings": true,
		"https://acme.app.example.com/admin":         false,
		"https://evil.example.com/home":              false,
	} {
		resp := newBrowser(t).get(r.srv.URL+"/auth/oauth/oidc:acme?redirectTo="+url.QueryEscape(to), func(*url.URL) bool { return true })
		if got := resp.StatusCode == http.StatusFound; got != ok {
			t.Errorf("redirectTo %s: %d", to, resp.StatusCode)
		}
	}
}

func TestRedirectURLOverride(t *testing.T) {
	r := newRPWith(t, rpOptions{})
	// A proxy serves the tenant's callback under another path.
	override := r.srv.URL + "/tenant/beta/oidc:beta/callback"
	r.srv.Config.Handler = proxyPrefix(r.srv.Config.Handler, "/tenant/beta/", "/auth/oauth/")
	r.op.AddClient(federationtest.Client{ID: "client-2", Secret: "s2", RedirectURIs: []string{override}})
	if err := r.reg.Set("beta", federation.ProviderConfig{Issuer: r.op.Issuer(), ClientID: "client-2", ClientSecret: "s2", RedirectURL: override}); err != nil {
		t.Fatal(err)
	}
	if got := r.h.RedirectURI("oidc:beta"); got != override {
		t.Fatalf("RedirectURI = %q", got)
	}
	b := newBrowser(t)
	resp := b.get(r.srv.URL+"/auth/oauth/oidc:beta?redirectTo=/x", func(u *url.URL) bool { return u.Path == "/x" })
	if resp.Header.Get("Location") != "/x" || r.loginCount() != 1 {
		t.Fatalf("landed at %q; logs:\n%s", resp.Header.Get("Location"), r.logs)
	}
	if !strings.Contains(strings.Join(b.seen, " "), "redirect_uri="+url.QueryEscape(override)) {
		t.Fatalf("the authorization request did not use the override: %q", b.seen)
	}
}

// proxyPrefix serves paths under from as the same paths under to.
func proxyPrefix(next http.Handler, from, to string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if rest, ok := strings.CutPrefix(req.URL.Path, from); ok {
			req.URL.Path = to + rest
		}
		next.ServeHTTP(w, req)
	})
}

// TestRolesAtSignIn: claims.roles feeds Result.User.Roles at sign-in, as
// for bearer tokens. A configured roles claim missing from the ID token is
// fetched from userinfo (a preset's default does not: TestNeedsUserinfo).
func TestRolesAtSignIn(t *testing.T) {
	withRoles := func(c map[string]any) { c["roles"] = []string{"Reports.Read", "Admin"} }
	t.Run("from the ID token's roles claim", func(t *testing.T) {
		r := newRP(t, federationtest.Options{})
		r.op.Misbehave(federationtest.Misbehavior{IDTokenClaims: withRoles})
		if r.signIn(newBrowser(t), "/"); r.loginCount() != 1 {
			t.Fatalf("logs:\n%s", r.logs)
		}
		if got := r.logins[0].Result.User.Roles; !slices.Equal(got, []string{"Reports.Read", "Admin"}) {
			t.Fatalf("User.Roles = %q", got)
		}
	})
	t.Run("a configured roles claim comes from userinfo when the ID token lacks it", func(t *testing.T) {
		r := newRPWith(t, rpOptions{provider: func(pc *federation.ProviderConfig) { pc.Claims.Roles = "app_roles" }})
		r.op.Misbehave(federationtest.Misbehavior{Userinfo: func(c map[string]any) { c["app_roles"] = "editor viewer" }})
		if r.signIn(newBrowser(t), "/"); r.loginCount() != 1 {
			t.Fatalf("logs:\n%s", r.logs)
		}
		if got := r.logins[0].Result.User.Roles; !slices.Equal(got, []string{"editor", "viewer"}) {
			t.Fatalf("User.Roles = %q; logs:\n%s", got, r.logs)
		}
	})
}
