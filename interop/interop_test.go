// Package interop signs in through real OpenID Providers, run as processes
// on loopback: panva's oidc-provider (Node) and the example OP of
// github.com/zitadel/oidc/v3. Every provider runs the same cases; a case a
// provider cannot do is skipped with the reason, and the cases in
// neverSkipped may not be.
//
// Run from this directory: npm ci && go test -race ./...
package interop

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/oidcfed/oidcfed/claims"
	"github.com/oidcfed/oidcfed/federation"
)

var kinds = []opKind{oidcProvider, zitadel}

var cases = []struct {
	name string
	run  func(t *testing.T, k opKind)
}{
	{"login", testLogin},
	{"claims-id-token", testClaimsInIDToken},
	{"claims-userinfo", testClaimsAtUserinfo},
	{"unverified-email", testUnverifiedEmail},
	{"es256", testES256},
	{"second-login", testSecondLogin},
	{"key-rotation", testKeyRotation},
	{"rp-initiated-logout", testLogout},
	{"backchannel-logout", testBackchannelLogout},
	{"bearer", testBearer},
	{"refresh", testRefresh},
}

// neverSkipped are the cases every provider must pass; the map holds the
// cases that oidc-provider, which can do everything, must pass as well.
var (
	neverSkipped        = []string{"login", "claims-id-token", "claims-userinfo"}
	neverSkippedByPanva = []string{"es256", "key-rotation"}
)

func TestInterop(t *testing.T) {
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					if reason, ok := k.cannot[c.name]; ok {
						t.Skip(reason)
					}
					if c.run == nil {
						t.Fatalf("case %s has no test and %s gives no reason to skip it", c.name, k.name)
					}
					c.run(t, k)
				})
			}
		})
	}
}

// TestNothingRequiredIsSkipped keeps the suite honest: the cases the issue
// requires cannot be turned into skips.
func TestNothingRequiredIsSkipped(t *testing.T) {
	for _, k := range kinds {
		required := neverSkipped
		if k.name == oidcProvider.name {
			required = append(slices.Clone(required), neverSkippedByPanva...)
		}
		for _, name := range required {
			if reason, ok := k.cannot[name]; ok {
				t.Errorf("%s skips %s (%s), which may never be skipped", k.name, name, reason)
			}
		}
	}
	for name, reason := range oidcProvider.cannot {
		t.Errorf("oidc-provider skips %s (%s); it can do every case", name, reason)
	}
}

// setUp starts an RP and a provider for it.
func setUp(t *testing.T, k opKind, claimsInIDToken bool) (*relyingParty, *runningOP) {
	rp := newRP(t)
	op := k.start(t, rp.base, claimsInIDToken)
	bearer := federation.BearerConfig{}
	if op.apiScope != "" {
		bearer.Scopes = []string{op.apiScope}
	}
	rp.serve(op.providers, bearer)
	return rp, op
}

// wantUser compares the mapped user with the expected one, ignoring Raw.
func wantUser(t *testing.T, got, want claims.User, key, issuer string) {
	t.Helper()
	want.Provider, want.Issuer = federation.Key(key), issuer
	got.Raw = nil
	if !reflect.DeepEqual(got, want) {
		t.Errorf("user:\n got %+v\nwant %+v", got, want)
	}
}

// header decodes a compact JWS's protected header and payload.
func header(t *testing.T, token string) (jose.Header, map[string]any) {
	t.Helper()
	jws, err := jose.ParseSigned(token, []jose.SignatureAlgorithm{jose.RS256, jose.ES256, jose.EdDSA, jose.PS256})
	if err != nil {
		t.Fatalf("token is not a JWS: %v", err)
	}
	var payload map[string]any
	if err := json.Unmarshal(jws.UnsafePayloadWithoutVerification(), &payload); err != nil {
		t.Fatal(err)
	}
	return jws.Signatures[0].Protected, payload
}

// testLogin signs in through the provider's own login (and consent) pages
// and checks PKCE, RFC 9207 and the mapped user.
func testLogin(t *testing.T, k opKind) {
	rp, op := setUp(t, k, false)
	b := newBrowser(t)
	login, forms := rp.signIn(b, federation.Key(op.plain), op.fill)
	if len(forms) == 0 {
		t.Fatal("the provider showed no login page")
	}
	if login.Decision.Outcome != federation.Created {
		t.Errorf("outcome %v, want Created", login.Decision.Outcome)
	}
	wantUser(t, login.Result.User, op.user, op.plain, op.proc.issuer)

	md := discoveryOf(t, op.proc.issuer)
	if n := len(rp.requests(strings.TrimSuffix(op.proc.issuer, "/") + "/.well-known/openid-configuration")); n != 1 {
		t.Errorf("discovery fetched %d times at the issuer's well-known URL, want 1", n)
	}
	var auth, callback []string
	for _, u := range b.visited {
		v := *u
		v.RawQuery = ""
		switch {
		case v.String() == md.AuthorizationEndpoint:
			auth = append(auth, u.RawQuery)
		case u.Host == strings.TrimPrefix(rp.base, "http://") && strings.HasSuffix(u.Path, "/callback"):
			callback = append(callback, u.RawQuery)
		}
	}
	if len(auth) == 0 || len(callback) != 1 {
		t.Fatalf("visited %d authorization requests and %d callbacks, want ≥1 and 1", len(auth), len(callback))
	}
	q := parseQuery(t, auth[0])
	if q.Get("code_challenge_method") != "S256" || len(q.Get("code_challenge")) != 43 || q.Get("state") == "" || q.Get("nonce") == "" {
		t.Errorf("authorization request lacks PKCE S256, state or nonce: %v", q)
	}
	tokens := rp.requests(md.TokenEndpoint)
	if len(tokens) != 1 {
		t.Fatalf("%d token requests, want 1", len(tokens))
	}
	sum := sha256.Sum256([]byte(tokens[0].form.Get("code_verifier")))
	if base64.RawURLEncoding.EncodeToString(sum[:]) != q.Get("code_challenge") {
		t.Error("the token request's code_verifier does not match the code_challenge")
	}
	if iss := parseQuery(t, callback[0]).Get("iss"); op.issInResponse && iss != op.proc.issuer {
		t.Errorf("callback iss %q, want %q (RFC 9207)", iss, op.proc.issuer)
	}
}

// testClaimsInIDToken: the claims come from the ID token alone; userinfo
// is not called.
func testClaimsInIDToken(t *testing.T, k opKind) { testClaims(t, k, true) }

// testClaimsAtUserinfo: the ID token has only sub; the profile and email
// come from userinfo, called once.
func testClaimsAtUserinfo(t *testing.T, k opKind) { testClaims(t, k, false) }

func testClaims(t *testing.T, k opKind, inIDToken bool) {
	rp, op := setUp(t, k, inIDToken)
	login, _ := rp.signIn(newBrowser(t), federation.Key(op.plain), op.fill)
	wantUser(t, login.Result.User, op.user, op.plain, op.proc.issuer)
	_, payload := header(t, login.Result.Tokens.IDToken.Reveal())
	if hasProfile := payload["email"] != nil && payload["name"] != nil; hasProfile != inIDToken {
		t.Errorf("ID token claims %v; want email and name in it: %t", keys(payload), inIDToken)
	}
	wantCalls := 1
	if inIDToken {
		wantCalls = 0
	}
	md := discoveryOf(t, op.proc.issuer)
	if n := len(rp.requests(md.UserinfoEndpoint)); n != wantCalls {
		t.Errorf("userinfo called %d times, want %d", n, wantCalls)
	}
}

// testUnverifiedEmail: an unverified email is carried through as
// EmailVerified false, whether the provider says false or, like zitadel,
// leaves email_verified out.
func testUnverifiedEmail(t *testing.T, k opKind) {
	rp, op := setUp(t, k, true)
	login, _ := rp.signIn(newBrowser(t), federation.Key(op.plain), op.unverified.fill)
	wantUser(t, login.Result.User, op.unverified.user, op.plain, op.proc.issuer)
	if v, ok := login.Result.User.Raw["email_verified"]; ok != op.unverified.sendsFalse || ok && v != false {
		t.Errorf("email_verified claim %v (present %t); want it present and false: %t", v, ok, op.unverified.sendsFalse)
	}
}

// testES256: an ID token signed with ES256 by the provider's EC key.
func testES256(t *testing.T, k opKind) {
	rp, op := setUp(t, k, true)
	login, _ := rp.signIn(newBrowser(t), federation.Key(op.es256), op.fill)
	h, _ := header(t, login.Result.Tokens.IDToken.Reveal())
	if h.Algorithm != "ES256" || h.KeyID != op.ecKID {
		t.Errorf("ID token alg %s kid %s, want ES256 %s", h.Algorithm, h.KeyID, op.ecKID)
	}
	wantUser(t, login.Result.User, op.user, op.es256, op.proc.issuer)
}

// testSecondLogin: a second sign-in in the same browser reuses the
// provider's session: no form, the same account.
func testSecondLogin(t *testing.T, k opKind) {
	rp, op := setUp(t, k, true)
	b := newBrowser(t)
	first, _ := rp.signIn(b, federation.Key(op.plain), op.fill)
	second, forms := rp.signIn(b, federation.Key(op.plain), op.fill)
	if len(forms) != 0 {
		t.Errorf("the second sign-in showed forms %v; the provider's session should have been reused", forms)
	}
	if second.Decision.Outcome != federation.SignedIn || second.Decision.Account.ID != first.Decision.Account.ID {
		t.Errorf("second sign-in: %v, want SignedIn to %s", second.Decision, first.Decision.Account.ID)
	}
}

// testKeyRotation: the provider restarts with new signing keys; the RP,
// which cached the old key set, fetches the new one for the unknown kid.
func testKeyRotation(t *testing.T, k opKind) {
	rp, op := setUp(t, k, true)
	first, _ := rp.signIn(newBrowser(t), federation.Key(op.plain), op.fill)
	oldKID := mustKID(t, first)

	op = op.restart(t)
	second, _ := rp.signIn(newBrowser(t), federation.Key(op.plain), op.fill)
	newKID := mustKID(t, second)
	if newKID == oldKID {
		t.Fatalf("the restarted provider signed with the old key %s", oldKID)
	}
	if op.rsaKID != "" && newKID != op.rsaKID {
		t.Errorf("kid %s, want the new key %s", newKID, op.rsaKID)
	}
	md := discoveryOf(t, op.proc.issuer)
	if n := len(rp.requests(md.JWKSURI)); n != 2 {
		t.Errorf("the key set was fetched %d times, want 2 (once per key)", n)
	}
	if second.Decision.Outcome != federation.SignedIn {
		t.Errorf("outcome %v after rotation, want SignedIn", second.Decision.Outcome)
	}
}

func mustKID(t *testing.T, l *federation.Login) string {
	t.Helper()
	h, _ := header(t, l.Result.Tokens.IDToken.Reveal())
	if h.KeyID == "" {
		t.Fatal("the ID token has no kid")
	}
	return h.KeyID
}

// testLogout: RP-initiated logout ends the provider's session and returns
// to the post-logout redirect URI; the next sign-in shows the login page.
func testLogout(t *testing.T, k opKind) {
	rp, op := setUp(t, k, true)
	b := newBrowser(t)
	login, _ := rp.signIn(b, federation.Key(op.plain), op.fill)
	u, err := rp.handler.LogoutURL(context.Background(), federation.Key(op.plain), federation.LogoutRequest{
		IDTokenHint: login.Result.Tokens.IDToken.Reveal(), PostLogoutRedirectURI: "/", State: "bye-" + k.name})
	if err != nil {
		t.Fatal(err)
	}
	p := logOut(t, b, u, rp)
	if !p.on(rp.base) || p.url.Path != "/" || p.status != http.StatusOK {
		t.Fatalf("logout ended at %s (HTTP %d): %s", p.url.Redacted(), p.status, p.snippet())
	}
	if state := p.url.Query().Get("state"); state != "bye-"+k.name {
		t.Errorf("back from logout with state %q, want bye-%s", state, k.name)
	}
	if _, forms := rp.signIn(b, federation.Key(op.plain), op.fill); len(forms) == 0 {
		t.Error("after logout the provider signed in without its login page")
	}
}

// logOut follows a logout URL, confirming the provider's logout page,
// until the browser is back at the RP.
func logOut(t *testing.T, b *browser, u string, rp *relyingParty) *page {
	t.Helper()
	p := b.get(u)
	for range 3 {
		if p.on(rp.base) {
			break
		}
		f := p.firstForm()
		if f == nil {
			t.Fatalf("logout stuck at %s (HTTP %d): %s", p.url.Redacted(), p.status, p.snippet())
		}
		p = b.submit(f, nil)
	}
	return p
}

// testBackchannelLogout: logging out at the provider makes it POST a
// logout token to the RP, which verifies it and calls OnLogout with the
// subject and the session of the sign-in.
func testBackchannelLogout(t *testing.T, k opKind) {
	rp, op := setUp(t, k, true)
	b := newBrowser(t)
	login, _ := rp.signIn(b, federation.Key(op.plain), op.fill)
	if login.Result.SID == "" {
		t.Fatal("the ID token has no sid, so a logout cannot name the session")
	}
	u, err := rp.handler.LogoutURL(context.Background(), federation.Key(op.plain), federation.LogoutRequest{
		IDTokenHint: login.Result.Tokens.IDToken.Reveal(), PostLogoutRedirectURI: "/"})
	if err != nil {
		t.Fatal(err)
	}
	logOut(t, b, u, rp)
	got := rp.logoutsSoFar()
	if len(got) != 1 {
		t.Fatalf("%d back-channel logouts, want 1", len(got))
	}
	want := federation.LogoutEvent{Provider: federation.Key(op.plain), Issuer: op.proc.issuer, Subject: op.user.Subject, SID: login.Result.SID}
	got[0].IssuedAt = time.Time{}
	if got[0] != want {
		t.Errorf("logout event %+v, want %+v", got[0], want)
	}
}

// testRefresh: Provider.Refresh gets new tokens, with the new ID token
// checked against the original (OpenID Connect Core 1.0 §12.2); a rotated
// refresh token cannot be used again, which tells the host to sign in.
func testRefresh(t *testing.T, k opKind) {
	rp, op := setUp(t, k, true)
	login, _ := rp.signIn(newBrowser(t), federation.Key(op.plain), op.fill)
	old := login.Result.Tokens
	if old.RefreshToken == "" {
		t.Fatal("the provider issued no refresh token")
	}
	p := rp.provider(federation.Key(op.plain))
	// A refreshed ID token issued within the same second as the original
	// can be byte-identical (oidc-provider repeats even the nonce); a
	// second later its iat tells them apart.
	time.Sleep(1100 * time.Millisecond)
	got, err := p.Refresh(context.Background(), old)
	if err != nil {
		t.Fatal(err)
	}
	if got.AccessToken == old.AccessToken {
		t.Error("the access token was not replaced")
	}
	if got.IDToken == old.IDToken {
		t.Error("the provider sent no new ID token, so §12.2 was not exercised")
	}
	if _, payload := header(t, got.IDToken.Reveal()); payload["sub"] != op.user.Subject {
		t.Errorf("refreshed ID token sub %v, want %s", payload["sub"], op.user.Subject)
	}
	t.Logf("refresh token rotated: %t", got.RefreshToken != old.RefreshToken)
	if got.RefreshToken != old.RefreshToken {
		_, err := p.Refresh(context.Background(), old)
		var fe *federation.Error
		if !errors.As(err, &fe) || fe.Code != federation.CodeLoginRequired {
			t.Errorf("reusing the rotated-out refresh token: %v, want code %s", err, federation.CodeLoginRequired)
		}
	}
	if _, err := p.Refresh(context.Background(), got); err != nil {
		t.Errorf("refreshing again with the new tokens: %v", err)
	}
}

// testBearer: the access token from a sign-in is accepted by
// RequireBearer; the same token altered is refused.
func testBearer(t *testing.T, k opKind) {
	rp, op := setUp(t, k, true)
	login, _ := rp.signIn(newBrowser(t), federation.Key(op.api), op.fill)
	token := login.Result.Tokens.AccessToken.Reveal()
	h, payload := header(t, token)
	t.Logf("access token: typ %v, aud %v, scope %v", h.ExtraHeaders["typ"], payload["aud"], payload["scope"])

	status, challenge, body := rp.callAPI(token)
	if status != http.StatusOK {
		t.Fatalf("API: %d %s %s", status, challenge, body)
	}
	var got struct{ Provider, Subject string }
	json.Unmarshal([]byte(body), &got)
	if got.Provider != federation.Key(op.api) || got.Subject != op.user.Subject {
		t.Errorf("API saw %+v, want %s %s", got, federation.Key(op.api), op.user.Subject)
	}

	altered := token[:len(token)-4] + flip(token[len(token)-4:])
	status, challenge, _ = rp.callAPI(altered)
	if status != http.StatusUnauthorized || !strings.Contains(challenge, `error="invalid_token"`) {
		t.Errorf("altered token: %d %s, want 401 invalid_token", status, challenge)
	}
}

// flip changes every character of a base64url string.
func flip(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
	}
	return string(b)
}

func keys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// metadata is what the tests read from the provider's discovery document,
// fetched here rather than through the library under test.
type metadata struct {
	AuthorizationEndpoint string `json:"authorization_endpoint"`
	TokenEndpoint         string `json:"token_endpoint"`
	UserinfoEndpoint      string `json:"userinfo_endpoint"`
	JWKSURI               string `json:"jwks_uri"`
}

func discoveryOf(t *testing.T, issuer string) metadata {
	t.Helper()
	resp, err := http.Get(strings.TrimSuffix(issuer, "/") + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var md metadata
	if err := json.NewDecoder(resp.Body).Decode(&md); err != nil {
		t.Fatal(err)
	}
	return md
}

func parseQuery(t *testing.T, raw string) url.Values {
	t.Helper()
	q, err := url.ParseQuery(raw)
	if err != nil {
		t.Fatal(err)
	}
	return q
}
