package federation_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oidcfed/oidcfed/discovery"
	"github.com/oidcfed/oidcfed/federation"
	"github.com/oidcfed/oidcfed/federation/federationtest"
)

// logoutRP is a signed-in relying party whose OnLogout records events and
// fails while fail is set.
type logoutRP struct {
	*signedIn
	mu     sync.Mutex
	events []federation.LogoutEvent
	fail   bool
}

func newLogoutRP(t *testing.T) *logoutRP {
	l := &logoutRP{}
	l.signedIn = newSignedIn(t, rpOptions{onLogout: func(_ context.Context, e federation.LogoutEvent) error {
		l.mu.Lock()
		defer l.mu.Unlock()
		if l.fail {
			return errors.New("session store unavailable")
		}
		l.events = append(l.events, e)
		return nil
	}})
	return l
}

func (l *logoutRP) received() []federation.LogoutEvent {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]federation.LogoutEvent(nil), l.events...)
}

// post sends a logout request and returns the status, the Cache-Control
// header and the body.
func (l *logoutRP) post(contentType, body string) (int, string, string) {
	resp, err := http.Post(l.srv.URL+"/auth/oauth/oidc:acme/backchannel-logout", contentType, strings.NewReader(body))
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Cache-Control"), string(b)
}

func (l *logoutRP) postToken(token string) (int, string, string) {
	return l.post("application/x-www-form-urlencoded", url.Values{"logout_token": {token}}.Encode())
}

func TestBackchannelLogout(t *testing.T) {
	l := newLogoutRP(t)
	sid := l.logins[0].Result.SID
	if sid == "" {
		t.Fatal("the ID token carried no sid")
	}
	for _, tc := range []struct{ name, sub, sid string }{
		{"sub and sid", "alice", sid},
		{"sid only", "", sid},
		{"sub only", "alice", ""},
	} {
		before := len(l.received())
		status, cache, body := l.postToken(l.op.LogoutToken("client-1", tc.sub, tc.sid, nil))
		if status != http.StatusOK || cache != "no-store" || body != "" {
			t.Fatalf("%s: %d %q %q, want 200 no-store with no body; logs:\n%s", tc.name, status, cache, body, l.logs)
		}
		got := l.received()
		want := federation.LogoutEvent{Provider: "oidc:acme", Issuer: l.op.Issuer(), Subject: tc.sub, SID: tc.sid, IssuedAt: l.clock.Now().Truncate(time.Second)}
		if len(got) != before+1 {
			t.Fatalf("%s: %d events, want 1", tc.name, len(got)-before)
		}
		e := got[before]
		if !e.IssuedAt.Equal(want.IssuedAt) {
			t.Errorf("%s: IssuedAt %v, want %v", tc.name, e.IssuedAt, want.IssuedAt)
		}
		e.IssuedAt, want.IssuedAt = time.Time{}, time.Time{}
		if e != want {
			t.Errorf("%s: event %+v, want %+v", tc.name, e, want)
		}
	}
	// The federationtest sender reaches the same route.
	if status, err := l.op.BackchannelLogout("client-1", "alice", sid); err != nil || status != http.StatusOK {
		t.Fatalf("BackchannelLogout: %d, %v", status, err)
	}
}

// TestBackchannelLogoutRejections feeds logout tokens that OpenID Connect
// Back-Channel Logout 1.0 §2.6 refuses: each is answered 400
// invalid_request, reaches no hook, and fails VerifyLogoutToken with the
// precise cause.
func TestBackchannelLogoutRejections(t *testing.T) {
	l := newLogoutRP(t)
	cases := backchannelRejections(t, l)
	before := len(l.received())
	for _, tt := range cases {
		if len(tt.modules) == 0 {
			t.Run(tt.name, func(t *testing.T) { tt.run(t, l) })
		}
	}
	if n := len(l.received()) - before; n != 0 {
		t.Errorf("OnLogout was called %d times for refused tokens", n)
	}
}

// backchannelRejection is a logout token the library must refuse.
type backchannelRejection struct {
	name    string
	modules []string // the RP conformance modules it mirrors (TestConformance)
	token   string
	cause   error
}

// backchannelRejections are the logout tokens refused at l's provider
// (those with modules run in TestConformance). One token is used once
// here, so that its replay can be refused.
func backchannelRejections(t *testing.T, l *logoutRP) []backchannelRejection {
	t.Helper()
	now := l.clock.Now()
	token := func(typ string, edit func(c map[string]any)) string {
		c := map[string]any{"iss": l.op.Issuer(), "aud": "client-1", "sub": "alice", "iat": now.Unix(),
			"exp": now.Add(2 * time.Minute).Unix(), "jti": "jti-" + typ + time.Now().String(),
			"events": map[string]any{"http://schemas.openid.net/event/backchannel-logout": map[string]any{}}}
		edit(c)
		return l.op.SignJWT(typ, c)
	}
	unsigned := func() string {
		h := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"logout+jwt"}`))
		p, _ := json.Marshal(map[string]any{"iss": l.op.Issuer(), "aud": "client-1", "sub": "alice", "iat": now.Unix(),
			"exp": now.Add(time.Minute).Unix(), "jti": "j", "events": map[string]any{"http://schemas.openid.net/event/backchannel-logout": map[string]any{}}})
		return h + "." + base64.RawURLEncoding.EncodeToString(p) + "."
	}()
	keep := func(map[string]any) {}
	replayed := l.op.LogoutToken("client-1", "alice", "", nil)
	if status, _, _ := l.postToken(replayed); status != http.StatusOK {
		t.Fatalf("first use of a token: %d", status)
	}
	return []backchannelRejection{
		{"alg none", []string{"oidcc-client-test-rp-backchannel-rpinitlogout-alg-none"}, unsigned, discovery.ErrUnsupportedAlgorithm},
		{"a wrong alg (HS256)", []string{"oidcc-client-test-rp-backchannel-rpinitlogout-wrong-alg"}, func() string {
			p, _ := json.Marshal(map[string]any{"iss": l.op.Issuer(), "aud": "client-1", "sub": "alice", "iat": now.Unix(),
				"exp": now.Add(time.Minute).Unix(), "jti": "hs", "events": map[string]any{"http://schemas.openid.net/event/backchannel-logout": map[string]any{}}})
			return federationtest.Sign(p, []byte(strings.Repeat("k", 32)), "", "HS256")
		}(), discovery.ErrUnsupportedAlgorithm},
		{"a bad signature", nil, func() string { t := l.op.LogoutToken("client-1", "alice", "", nil); return t[:len(t)-4] + "AAAA" }(), discovery.ErrInvalidSignature},
		{"another audience", []string{"oidcc-client-test-rp-backchannel-rpinitlogout-wrong-aud"}, token("logout+jwt", func(c map[string]any) { c["aud"] = "client-2" }), discovery.ErrTokenAudience},
		{"another issuer", []string{"oidcc-client-test-rp-backchannel-rpinitlogout-wrong-iss"}, token("logout+jwt", func(c map[string]any) { c["iss"] = "https://evil.example" }), discovery.ErrTokenIssuer},
		{"no events", nil, token("logout+jwt", func(c map[string]any) { delete(c, "events") }), federation.ErrLogoutEvent},
		{"events without the logout member", []string{"oidcc-client-test-rp-backchannel-rpinitlogout-wrong-event"}, token("logout+jwt", func(c map[string]any) { c["events"] = map[string]any{"x": map[string]any{}} }), federation.ErrLogoutEvent},
		{"the logout member not an object", nil, token("logout+jwt", func(c map[string]any) {
			c["events"] = map[string]any{"http://schemas.openid.net/event/backchannel-logout": "yes"}
		}), federation.ErrLogoutEvent},
		{"events a list", nil, token("logout+jwt", func(c map[string]any) { c["events"] = []string{"http://schemas.openid.net/event/backchannel-logout"} }), federation.ErrLogoutEvent},
		{"a nonce", []string{"oidcc-client-test-rp-backchannel-rpinitlogout-with-nonce"}, token("logout+jwt", func(c map[string]any) { c["nonce"] = "n" }), federation.ErrLogoutNonce},
		{"neither sub nor sid", nil, token("logout+jwt", func(c map[string]any) { delete(c, "sub") }), federation.ErrLogoutSubject},
		{"an empty sid", nil, token("logout+jwt", func(c map[string]any) { delete(c, "sub"); c["sid"] = "" }), discovery.ErrInvalidClaim},
		{"an empty sub", nil, token("logout+jwt", func(c map[string]any) { c["sub"] = "" }), discovery.ErrInvalidClaim},
		{"expired past the leeway", nil, token("logout+jwt", func(c map[string]any) { c["exp"] = now.Add(-2 * time.Minute).Unix() }), discovery.ErrTokenExpired},
		{"no exp", nil, token("logout+jwt", func(c map[string]any) { delete(c, "exp") }), discovery.ErrMissingClaim},
		{"no iat", nil, token("logout+jwt", func(c map[string]any) { delete(c, "iat") }), discovery.ErrMissingClaim},
		{"iat in the future", nil, token("logout+jwt", func(c map[string]any) { c["iat"] = now.Add(10 * time.Minute).Unix() }), discovery.ErrTokenIssuedInFuture},
		{"no jti", nil, token("logout+jwt", func(c map[string]any) { delete(c, "jti") }), federation.ErrLogoutJTI},
		{"typ at+jwt", nil, token("at+jwt", keep), federation.ErrLogoutTokenType},
		{"typ of an ID token type", nil, token("id_token+jwt", keep), federation.ErrLogoutTokenType},
		{"an ID token", nil, l.tokens.IDToken.Reveal(), federation.ErrLogoutEvent},
		{"a replayed jti", nil, replayed, federation.ErrLogoutReplay},
		{"not a JWT", nil, "not-a-token", discovery.ErrMalformedToken},
	}
}

// run posts the token and wants it refused: 400 invalid_request, not
// echoed or logged, and VerifyLogoutToken failing with the cause.
func (tt backchannelRejection) run(t *testing.T, l *logoutRP) {
	p, _ := l.reg.Lookup("oidc:acme")
	status, cache, body := l.postToken(tt.token)
	if status != http.StatusBadRequest || cache != "no-store" || !strings.Contains(body, `"error":"invalid_request"`) {
		t.Errorf("answered %d %q %s, want 400 no-store invalid_request", status, cache, body)
	}
	if strings.Contains(body, tt.token) || strings.Contains(l.logs.String(), tt.token) {
		t.Error("the token was echoed or logged")
	}
	if _, err := p.VerifyLogoutToken(context.Background(), tt.token); !errors.Is(err, tt.cause) ||
		!errors.Is(err, &federation.Error{Code: federation.CodeInvalidToken}) {
		t.Errorf("VerifyLogoutToken: %v, want an invalid_token *Error wrapping %v", err, tt.cause)
	}
}

func TestBackchannelLogoutAcceptsOlderTypes(t *testing.T) {
	l := newLogoutRP(t)
	for _, typ := range []string{"", "JWT", "application/logout+jwt"} {
		tok := l.op.LogoutToken("client-1", "alice", "", nil)
		// Re-sign the same claims under another typ.
		parts := strings.Split(tok, ".")
		b, _ := base64.RawURLEncoding.DecodeString(parts[1])
		var c map[string]any
		json.Unmarshal(b, &c)
		if status, _, body := l.postToken(l.op.SignJWT(typ, c)); status != http.StatusOK {
			t.Errorf("typ %q: %d %s", typ, status, body)
		}
	}
}

func TestBackchannelLogoutRequests(t *testing.T) {
	l := newLogoutRP(t)
	tok := l.op.LogoutToken("client-1", "alice", "", nil)
	for _, tc := range []struct {
		name, contentType, body string
		want                    int
	}{
		{"JSON instead of a form", "application/json", `{"logout_token":"` + tok + `"}`, http.StatusBadRequest},
		{"no logout_token", "application/x-www-form-urlencoded", "x=1", http.StatusBadRequest},
		{"two logout_tokens", "application/x-www-form-urlencoded", url.Values{"logout_token": {tok, tok}}.Encode(), http.StatusBadRequest},
		{"an oversized body", "application/x-www-form-urlencoded", "logout_token=" + strings.Repeat("a", 70<<10), http.StatusBadRequest},
	} {
		if status, _, body := l.post(tc.contentType, tc.body); status != tc.want {
			t.Errorf("%s: %d %s, want %d", tc.name, status, body, tc.want)
		}
	}
	resp, err := http.Get(l.srv.URL + "/auth/oauth/oidc:acme/backchannel-logout")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "POST" {
		t.Errorf("GET: %d Allow %q, want 405 POST", resp.StatusCode, resp.Header.Get("Allow"))
	}
	if status, _, _ := l.postToken(tok); status != http.StatusOK {
		t.Fatalf("the valid token after the bad requests: %d", status)
	}
}

// TestBackchannelLogoutHookFailure: when the host cannot end the
// sessions, the provider is told 400 and may send the same token again.
func TestBackchannelLogoutHookFailure(t *testing.T) {
	l := newLogoutRP(t)
	tok := l.op.LogoutToken("client-1", "alice", "", nil)
	l.mu.Lock()
	l.fail = true
	l.mu.Unlock()
	if status, _, body := l.postToken(tok); status != http.StatusBadRequest || !strings.Contains(body, "could not be completed") {
		t.Fatalf("with a failing hook: %d %s", status, body)
	}
	l.mu.Lock()
	l.fail = false
	l.mu.Unlock()
	if status, _, body := l.postToken(tok); status != http.StatusOK {
		t.Fatalf("the retry: %d %s", status, body)
	}
	if status, _, _ := l.postToken(tok); status != http.StatusBadRequest {
		t.Fatalf("a third send after success: %d, want 400 (replay)", status)
	}
}

func TestBackchannelLogoutExpiredJTIsAreForgotten(t *testing.T) {
	l := newLogoutRP(t)
	p, _ := l.reg.Lookup("oidc:acme")
	c := map[string]any{"iss": l.op.Issuer(), "aud": "client-1", "sub": "alice", "jti": "same",
		"events": map[string]any{"http://schemas.openid.net/event/backchannel-logout": map[string]any{}}}
	sign := func() string {
		c["iat"], c["exp"] = l.clock.Now().Unix(), l.clock.Now().Add(time.Minute).Unix()
		return l.op.SignJWT("logout+jwt", c)
	}
	if _, err := p.VerifyLogoutToken(context.Background(), sign()); err != nil {
		t.Fatal(err)
	}
	if _, err := p.VerifyLogoutToken(context.Background(), sign()); !errors.Is(err, federation.ErrLogoutReplay) {
		t.Fatalf("the same jti within its lifetime: %v, want ErrLogoutReplay", err)
	}
	l.clock.Advance(3 * time.Minute) // past exp + leeway of the first
	if _, err := p.VerifyLogoutToken(context.Background(), sign()); err != nil {
		t.Fatalf("the same jti after the first token expired: %v", err)
	}
}
