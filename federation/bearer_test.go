package federation_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oidcfed/oidcfed/claims"
	"github.com/oidcfed/oidcfed/discovery"
	"github.com/oidcfed/oidcfed/federation"
	"github.com/oidcfed/oidcfed/federation/federationtest"
	"github.com/oidcfed/oidcfed/internal/clock"
)

// api is a resource server: providers "acme" (audience api-1) and
// "other" (a second provider), and a fake clock shared with the providers.
type api struct {
	op, op2 *federationtest.Provider
	reg     *federation.Registry
	clock   *clock.Fake
	logs    *bytes.Buffer
}

func newAPI(t *testing.T, edit func(name string, pc *federation.ProviderConfig), opts ...federation.Option) *api {
	t.Helper()
	a := &api{op: federationtest.New(t, federationtest.Options{}), op2: federationtest.New(t, federationtest.Options{Algorithm: "ES256"}),
		clock: clock.NewFake(time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)), logs: &bytes.Buffer{}}
	a.op.SetClock(a.clock.Now)
	a.op2.SetClock(a.clock.Now)
	cfg := federation.Config{Providers: map[string]federation.ProviderConfig{
		"acme":  {Issuer: a.op.Issuer(), ClientID: "web-1", ClientSecret: "s3cret-value", Audiences: []string{"api-1"}},
		"other": {Issuer: a.op2.Issuer(), ClientID: "web-2", ClientSecret: "s3cret-value", Audiences: []string{"api-1"}},
	}}
	if edit != nil {
		for name, pc := range cfg.Providers {
			edit(name, &pc)
			cfg.Providers[name] = pc
		}
	}
	var err error
	a.reg, err = federation.NewRegistry(cfg, append([]federation.Option{federation.WithClock(a.clock.Now),
		federation.WithLogger(slog.New(slog.NewTextHandler(a.logs, &slog.HandlerOptions{Level: slog.LevelDebug})))}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// claims are a valid access token's claims at op; edit changes them.
func (a *api) claims(op *federationtest.Provider, edit func(map[string]any)) map[string]any {
	now := a.clock.Now()
	c := map[string]any{"iss": op.Issuer(), "sub": "alice", "aud": "api-1", "client_id": "cli-7",
		"iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(), "scope": "read write", "email": "alice@example.com"}
	if edit != nil {
		edit(c)
	}
	return c
}

// token is a valid access token of op (typ at+jwt), edited by edit.
func (a *api) token(op *federationtest.Provider, edit func(map[string]any)) string {
	return op.SignJWT("at+jwt", a.claims(op, edit))
}

// serve mounts an echo of the principal behind the middleware.
func (a *api) serve(t *testing.T, cfg federation.BearerConfig) *httptest.Server {
	srv := httptest.NewServer(federation.RequireBearer(a.reg, cfg)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := federation.PrincipalFrom(r.Context())
		if !ok {
			http.Error(w, "no principal", http.StatusInternalServerError)
			return
		}
		json.NewEncoder(w).Encode(p)
	})))
	t.Cleanup(srv.Close)
	return srv
}

func call(t *testing.T, u string, header ...string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Add(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

func mustBearer(t testing.TB, reg *federation.Registry, cfg federation.BearerConfig) *federation.Bearer {
	t.Helper()
	b, err := federation.NewBearer(reg, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestBearerAcceptsAValidToken(t *testing.T) {
	a := newAPI(t, func(name string, pc *federation.ProviderConfig) {
		pc.Claims = claims.Mapping{Roles: "realm_access.roles", Email: "upn"}
	})
	tok := a.token(a.op, func(c map[string]any) {
		c["realm_access"] = map[string]any{"roles": []string{"reader", "auditor"}}
		c["upn"] = "alice@corp.example"
	})
	resp, body := call(t, a.serve(t, federation.BearerConfig{Scopes: []string{"read"}}).URL, "Authorization", "Bearer "+tok)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	p, err := mustBearer(t, a.reg, federation.BearerConfig{}).Verify(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	now := a.clock.Now()
	want := federation.Principal{Provider: "oidc:acme", Scopes: []string{"read", "write"}, Roles: []string{"reader", "auditor"},
		ClientID: "cli-7", Audience: []string{"api-1"}, TokenType: "at+jwt", Expiry: now.Add(5 * time.Minute), IssuedAt: now,
		User: claims.User{Provider: "oidc:acme", Issuer: a.op.Issuer(), Subject: "alice", Email: "alice@corp.example", Roles: []string{"reader", "auditor"}}}
	got := *p
	got.User.Raw = nil
	if !equalJSON(got, want) {
		t.Fatalf("principal\n got %+v\nwant %+v", got, want)
	}
	if p.User.Raw["upn"] != "alice@corp.example" {
		t.Fatalf("User.Raw lacks the token's claims: %v", p.User.Raw)
	}
	if !p.HasScope("write") || p.HasScope("admin") || !p.HasRole("auditor") || p.HasRole("admin") {
		t.Fatal("HasScope/HasRole disagree with the principal")
	}
}

func equalJSON(a, b any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return bytes.Equal(ja, jb)
}

func TestBearerRejections(t *testing.T) {
	a := newAPI(t, nil)
	key, kid, alg := a.op.Key()
	enc := base64.RawURLEncoding.EncodeToString
	valid := a.token(a.op, nil)
	der, _ := x509.MarshalPKIXPublicKey(key.Public())
	payload, _ := json.Marshal(a.claims(a.op, nil))
	parts := strings.Split(valid, ".")
	tests := []struct {
		name  string
		token string
		cause error
		desc  string
	}{
		{"an expired token is refused", a.token(a.op, func(c map[string]any) { c["exp"] = a.clock.Now().Add(-2 * time.Minute).Unix() }),
			discovery.ErrTokenExpired, "the token is expired"},
		{"a token not valid yet is refused", a.token(a.op, func(c map[string]any) { c["nbf"] = a.clock.Now().Add(2 * time.Minute).Unix() }),
			discovery.ErrTokenNotYetValid, "the token is not valid yet"},
		{"a token issued in the future is refused", a.token(a.op, func(c map[string]any) { c["iat"] = a.clock.Now().Add(2 * time.Minute).Unix() }),
			discovery.ErrTokenIssuedInFuture, "the token is issued in the future"},
		{"a token for another audience is refused", a.token(a.op, func(c map[string]any) { c["aud"] = "web-1" }),
			discovery.ErrTokenAudience, "the token is not meant for this API (aud)"},
		{"a token of an unknown issuer is refused", a.token(a.op, func(c map[string]any) { c["iss"] = "https://evil.example" }),
			federation.ErrUnknownIssuer, "the token's issuer is not trusted"},
		{"a token whose iss differs from the provider's by a path is refused", a.token(a.op, func(c map[string]any) { c["iss"] = a.op.Issuer() + "/tenant" }),
			federation.ErrUnknownIssuer, "the token's issuer is not trusted"},
		{"a token naming one provider but signed by another is refused", a.token(a.op, func(c map[string]any) { c["iss"] = a.op2.Issuer() }),
			discovery.ErrUnknownKey, "the token's signing key is unknown"},
		{"alg none is refused", enc([]byte(`{"alg":"none","typ":"at+jwt"}`)) + "." + enc(payload) + ".",
			discovery.ErrUnsupportedAlgorithm, "the token's signing algorithm is not accepted"},
		{"HS256 keyed with the provider's RSA public key is refused",
			federationtest.Sign(payload, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), kid, "HS256"),
			discovery.ErrUnsupportedAlgorithm, "the token's signing algorithm is not accepted"},
		{"a bad signature is refused", parts[0] + "." + enc([]byte(`{"iss":"`+a.op.Issuer()+`","sub":"mallory","aud":"api-1"}`)) + "." + parts[2],
			discovery.ErrInvalidSignature, "the token's signature does not verify"},
		{"a key the provider does not publish is refused", federationtest.Sign(payload, otherKey, "not-published", alg),
			discovery.ErrUnknownKey, "the token's signing key is unknown"},
		{"a token of two parts is refused", parts[0] + "." + parts[1], discovery.ErrMalformedToken, "the token is not a signed JWT"},
		{"an encrypted token (JWE, five parts) is refused", "a.b.c.d.e", discovery.ErrMalformedToken, "the token is not a signed JWT"},
		{"a logout token is refused as an access token", a.op.SignJWT("logout+jwt", a.claims(a.op, nil)),
			federation.ErrTokenType, "the token is not an access token of an accepted type"},
		{"a sender-constrained (DPoP) token is refused", a.token(a.op, func(c map[string]any) { c["cnf"] = map[string]any{"jkt": "abc"} }),
			federation.ErrSenderConstrained, "the token is sender-constrained and cannot be used as a bearer token"},
		{"a token without sub is refused", a.token(a.op, func(c map[string]any) { delete(c, "sub") }),
			discovery.ErrMissingClaim, "the token's claims are invalid"},
		{"a scope claim that is a number is refused", a.token(a.op, func(c map[string]any) { c["scope"] = 7 }),
			claims.ErrClaim, "the token's claims are invalid"},
		{"a token longer than 16 KiB is refused", strings.Repeat("a", 16<<10) + ".b.c", discovery.ErrMalformedToken, "the token is not a signed JWT"},
	}
	srv := a.serve(t, federation.BearerConfig{Realm: "test-api"})
	b := mustBearer(t, a.reg, federation.BearerConfig{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := b.Verify(context.Background(), tt.token)
			var fe *federation.Error
			if !errors.As(err, &fe) || fe.Code != federation.CodeInvalidToken || !errors.Is(err, tt.cause) || fe.Description != tt.desc {
				t.Fatalf("error %v (description %q), want invalid_token caused by %v with %q", err, fe.Description, tt.cause, tt.desc)
			}
			resp, body := call(t, srv.URL, "Authorization", "Bearer "+tt.token)
			wantChallenge := `Bearer realm="test-api", error="invalid_token", error_description="` + tt.desc + `"`
			if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") != wantChallenge {
				t.Fatalf("%d %q, want 401 %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"), wantChallenge)
			}
			var e struct{ Error, ErrorDescription string }
			json.Unmarshal([]byte(strings.ReplaceAll(body, "error_description", "ErrorDescription")), &e)
			if e.Error != "invalid_token" || e.ErrorDescription != tt.desc || resp.Header.Get("Cache-Control") != "no-store" {
				t.Fatalf("body %s, Cache-Control %q", body, resp.Header.Get("Cache-Control"))
			}
			if len(tt.token) > 20 && (strings.Contains(body, tt.token[10:]) || strings.Contains(a.logs.String(), tt.token[10:])) {
				t.Fatal("the token was echoed in the response or the log")
			}
		})
	}
}

func TestBearerHTTPErrors(t *testing.T) {
	a := newAPI(t, nil)
	tok := a.token(a.op, nil)
	srv := a.serve(t, federation.BearerConfig{Realm: "test-api", Scopes: []string{"read", "admin"}})
	open := a.serve(t, federation.BearerConfig{Realm: "test-api"})
	tests := []struct {
		name      string
		url       string
		header    []string
		status    int
		challenge string
		code      string
	}{
		{"no Authorization header is a bare challenge", open.URL, nil, 401, `Bearer realm="test-api"`, "unauthenticated"},
		{"another scheme is a bare challenge", open.URL, []string{"Authorization", "Basic YTpi"}, 401, `Bearer realm="test-api"`, "unauthenticated"},
		{"two Authorization headers are a bare challenge", open.URL, []string{"Authorization", "Bearer " + tok, "Authorization", "Bearer " + tok}, 401, `Bearer realm="test-api"`, "unauthenticated"},
		{"the scheme is case-insensitive", open.URL, []string{"Authorization", "bEARER " + tok}, 200, "", ""},
		{"a missing scope is 403 insufficient_scope naming the required scopes", srv.URL, []string{"Authorization", "Bearer " + tok}, 403,
			`Bearer realm="test-api", error="insufficient_scope", error_description="the token lacks a required scope", scope="read admin"`, "insufficient_scope"},
		{"a token in the query is 400 invalid_request", open.URL + "?access_token=" + url.QueryEscape(tok), nil, 400,
			`Bearer realm="test-api", error="invalid_request", error_description="send the token in the Authorization header, not the URL"`, "invalid_request"},
		{"a token in the query is refused beside a valid header", open.URL + "?access_token=x", []string{"Authorization", "Bearer " + tok}, 400,
			`Bearer realm="test-api", error="invalid_request", error_description="send the token in the Authorization header, not the URL"`, "invalid_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := call(t, tt.url, tt.header...)
			if resp.StatusCode != tt.status || resp.Header.Get("WWW-Authenticate") != tt.challenge {
				t.Fatalf("%d %q, want %d %q; body %s", resp.StatusCode, resp.Header.Get("WWW-Authenticate"), tt.status, tt.challenge, body)
			}
			if tt.code != "" && !strings.Contains(body, `"error":"`+tt.code+`"`) {
				t.Fatalf("body %s, want error %s", body, tt.code)
			}
			if strings.Contains(body, tok[20:]) {
				t.Fatal("the token was echoed")
			}
		})
	}
	t.Run("a token in a form body is never read", func(t *testing.T) {
		resp, err := http.PostForm(open.URL, url.Values{"access_token": {tok}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") != `Bearer realm="test-api"` {
			t.Fatalf("%d %q, want the bare 401 challenge", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
		}
	})
	t.Run("unreachable provider keys are 503 without a challenge", func(t *testing.T) {
		b := newAPI(t, nil)
		tok := b.token(b.op, nil)
		b.op.Close()
		resp, body := call(t, b.serve(t, federation.BearerConfig{}).URL, "Authorization", "Bearer "+tok)
		if resp.StatusCode != 503 || resp.Header.Get("WWW-Authenticate") != "" || !strings.Contains(body, `"error":"provider_unavailable"`) {
			t.Fatalf("%d %q %s", resp.StatusCode, resp.Header.Get("WWW-Authenticate"), body)
		}
	})
}

func TestBearerPolicy(t *testing.T) {
	a := newAPI(t, nil)
	ctx := context.Background()
	idToken := a.op.SignJWT("JWT", a.claims(a.op, nil))
	t.Run("typ JWT is accepted by default", func(t *testing.T) {
		if _, err := mustBearer(t, a.reg, federation.BearerConfig{}).Verify(ctx, idToken); err != nil {
			t.Fatal(err)
		}
		if _, err := mustBearer(t, a.reg, federation.BearerConfig{}).Verify(ctx, a.op.SignJWT("", a.claims(a.op, nil))); err != nil {
			t.Fatalf("no typ: %v", err)
		}
	})
	t.Run("RequireAccessTokenType refuses typ JWT and accepts application/at+jwt", func(t *testing.T) {
		b := mustBearer(t, a.reg, federation.BearerConfig{RequireAccessTokenType: true})
		if _, err := b.Verify(ctx, idToken); !errors.Is(err, federation.ErrTokenType) {
			t.Fatalf("error %v, want ErrTokenType", err)
		}
		if _, err := b.Verify(ctx, a.op.SignJWT("application/AT+JWT", a.claims(a.op, nil))); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("Providers restricts the accepted providers", func(t *testing.T) {
		b := mustBearer(t, a.reg, federation.BearerConfig{Providers: []string{"oidc:other"}})
		if _, err := b.Verify(ctx, a.token(a.op, nil)); !errors.Is(err, federation.ErrProviderRefused) {
			t.Fatalf("error %v, want ErrProviderRefused", err)
		}
		if _, err := b.Verify(ctx, a.token(a.op2, nil)); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("a missing scope wraps ErrInsufficientScope", func(t *testing.T) {
		_, err := mustBearer(t, a.reg, federation.BearerConfig{Scopes: []string{"admin"}}).Verify(ctx, a.token(a.op, nil))
		if !errors.Is(err, federation.ErrInsufficientScope) || !errors.Is(err, &federation.Error{Code: federation.CodeInsufficientScope}) {
			t.Fatalf("error %v", err)
		}
	})
}

func TestBearerScopes(t *testing.T) {
	a := newAPI(t, func(name string, pc *federation.ProviderConfig) { pc.ScopePrefix = "api://app-1/" })
	b := mustBearer(t, a.reg, federation.BearerConfig{})
	for _, tt := range []struct {
		name string
		edit func(map[string]any)
		want []string
	}{
		{"scope is a space-separated string", func(c map[string]any) { c["scope"] = " read  write " }, []string{"read", "write"}},
		{"scp as a list (Okta)", func(c map[string]any) { delete(c, "scope"); c["scp"] = []string{"read", "write"} }, []string{"read", "write"}},
		{"scp as a string with the prefix stripped (Entra)", func(c map[string]any) { delete(c, "scope"); c["scp"] = "api://app-1/read Files.Read" }, []string{"read", "Files.Read"}},
		{"scope wins over scp", func(c map[string]any) { c["scp"] = []string{"other"} }, []string{"read", "write"}},
		{"no scope claim is no scopes", func(c map[string]any) { delete(c, "scope") }, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p, err := b.Verify(context.Background(), a.token(a.op, tt.edit))
			if err != nil {
				t.Fatal(err)
			}
			if !equalJSON(p.Scopes, tt.want) {
				t.Fatalf("scopes %q, want %q", p.Scopes, tt.want)
			}
		})
	}
}

func TestBearerIssuerSelection(t *testing.T) {
	a := newAPI(t, nil)
	// Two providers of one issuer, told apart by audience; and an
	// additional (v1-style) issuer for the same keys.
	reg, err := federation.NewRegistry(federation.Config{Providers: map[string]federation.ProviderConfig{
		"a": {Issuer: a.op.Issuer(), ClientID: "web-a", ClientSecret: "x", Audiences: []string{"api-a"}},
		"b": {Issuer: a.op.Issuer(), ClientID: "web-b", ClientSecret: "x", Audiences: []string{"api-b"},
			AdditionalIssuers: []string{"http://127.0.0.1:1/tenant/v1"}},
	}}, federation.WithClock(a.clock.Now))
	if err != nil {
		t.Fatal(err)
	}
	b := mustBearer(t, reg, federation.BearerConfig{})
	ctx := context.Background()
	for _, tt := range []struct {
		name, aud, iss string
		provider       string
		cause          error
	}{
		{"aud api-a selects provider a", "api-a", a.op.Issuer(), "oidc:a", nil},
		{"aud api-b selects provider b", "api-b", a.op.Issuer(), "oidc:b", nil},
		{"an audience of neither is refused", "api-c", a.op.Issuer(), "", discovery.ErrTokenAudience},
		{"b's additional issuer is accepted for b", "api-b", "http://127.0.0.1:1/tenant/v1", "oidc:b", nil},
		{"b's additional issuer does not serve a's audience", "api-a", "http://127.0.0.1:1/tenant/v1", "", discovery.ErrTokenAudience},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p, err := b.Verify(ctx, a.token(a.op, func(c map[string]any) { c["aud"], c["iss"] = tt.aud, tt.iss }))
			if tt.cause != nil {
				if !errors.Is(err, tt.cause) {
					t.Fatalf("error %v, want %v", err, tt.cause)
				}
				return
			}
			if err != nil || p.Provider != tt.provider || p.User.Issuer != tt.iss {
				t.Fatalf("principal %v, error %v; want provider %s, issuer %s", p, err, tt.provider, tt.iss)
			}
		})
	}
}

func TestBearerCache(t *testing.T) {
	ctx := context.Background()
	t.Run("a token verified again is a cache hit until its exp, never later", func(t *testing.T) {
		a := newAPI(t, nil)
		b := mustBearer(t, a.reg, federation.BearerConfig{})
		tok := a.token(a.op, nil) // exp: now + 5 min; leeway 1 min
		first, err := b.Verify(ctx, tok)
		if err != nil {
			t.Fatal(err)
		}
		a.clock.Advance(5*time.Minute - time.Second)
		if again, _ := b.Verify(ctx, tok); again != first {
			t.Fatal("one second before exp the token was verified afresh, want a cache hit")
		}
		a.clock.Advance(time.Second)
		again, err := b.Verify(ctx, tok)
		if err != nil || again == first {
			t.Fatalf("at exp: principal %p (first %p), error %v; want a fresh verification within the leeway", again, first, err)
		}
		a.clock.Advance(time.Minute)
		if _, err := b.Verify(ctx, tok); !errors.Is(err, discovery.ErrTokenExpired) {
			t.Fatalf("past exp + leeway: error %v, want ErrTokenExpired", err)
		}
	})
	t.Run("the cache is bounded and can be turned off", func(t *testing.T) {
		a := newAPI(t, nil, federation.WithBearerCacheSize(2))
		b := mustBearer(t, a.reg, federation.BearerConfig{})
		toks := []string{a.token(a.op, func(c map[string]any) { c["sub"] = "1" }), a.token(a.op, func(c map[string]any) { c["sub"] = "2" }),
			a.token(a.op, func(c map[string]any) { c["sub"] = "3" })}
		var ps []*federation.Principal
		for _, tok := range toks {
			p, _ := b.Verify(ctx, tok)
			ps = append(ps, p)
		}
		if p, _ := b.Verify(ctx, toks[2]); p != ps[2] {
			t.Fatal("the newest token was not cached")
		}
		if p, _ := b.Verify(ctx, toks[0]); p == ps[0] {
			t.Fatal("a cache of 2 still held the first of 3 tokens")
		}
		off := newAPI(t, nil, federation.WithBearerCacheSize(0))
		ob := mustBearer(t, off.reg, federation.BearerConfig{})
		tok := off.token(off.op, nil)
		p1, _ := ob.Verify(ctx, tok)
		if p2, _ := ob.Verify(ctx, tok); p1 == nil || p1 == p2 {
			t.Fatal("with the cache off, a token was served from a cache")
		}
	})
	t.Run("a key removed from the JWKS evicts the tokens it verified", func(t *testing.T) {
		a := newAPI(t, nil)
		b := mustBearer(t, a.reg, federation.BearerConfig{})
		old := a.token(a.op, nil)
		if _, err := b.Verify(ctx, old); err != nil {
			t.Fatal(err)
		}
		if _, err := b.Verify(ctx, old); err != nil {
			t.Fatal(err) // a cache hit
		}
		if err := a.op.RotateKey("RS256", false); err != nil {
			t.Fatal(err)
		}
		// A token with the new kid makes the key set refetch; the old key is gone.
		if _, err := b.Verify(ctx, a.token(a.op, nil)); err != nil {
			t.Fatalf("a token of the rotated-in key: %v", err)
		}
		if _, err := b.Verify(ctx, old); !errors.Is(err, discovery.ErrUnknownKey) {
			t.Fatalf("the token of the removed key: error %v, want ErrUnknownKey (evicted, then refused)", err)
		}
	})
}

func TestBearerConcurrentUse(t *testing.T) {
	a := newAPI(t, nil, federation.WithBearerCacheSize(8))
	srv := a.serve(t, federation.BearerConfig{Scopes: []string{"read"}})
	var toks []string
	for i := range 16 {
		op := a.op
		if i%2 == 1 {
			op = a.op2
		}
		toks = append(toks, a.token(op, func(c map[string]any) { c["sub"] = "user-" + string(rune('a'+i)) }))
	}
	var wg sync.WaitGroup
	errs := make(chan string, 64*8)
	for g := range 64 {
		wg.Go(func() {
			for i := range 8 {
				tok := toks[(g+i)%len(toks)]
				resp, body := call(t, srv.URL, "Authorization", "Bearer "+tok)
				if resp.StatusCode != http.StatusOK {
					errs <- body
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatalf("a valid token was refused under concurrency: %s", e)
	}
}

func TestNewBearerRejectsBadConfig(t *testing.T) {
	a := newAPI(t, nil)
	for _, tt := range []struct {
		name string
		reg  *federation.Registry
		cfg  federation.BearerConfig
		want string
	}{
		{"no registry", nil, federation.BearerConfig{}, "a Registry is required"},
		{"a realm with a quote", a.reg, federation.BearerConfig{Realm: `a"b`}, `Realm "a\"b" must not contain quotes`},
		{"a scope with a space", a.reg, federation.BearerConfig{Scopes: []string{"read write"}}, `Scopes: "read write" is not a scope token`},
		{"an unregistered provider", a.reg, federation.BearerConfig{Providers: []string{"oidc:nope"}}, `Providers: "oidc:nope" is not registered`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := federation.NewBearer(tt.reg, tt.cfg); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want it to contain %q", err, tt.want)
			}
		})
	}
	defer func() {
		if recover() == nil {
			t.Fatal("RequireBearer accepted an invalid config")
		}
	}()
	federation.RequireBearer(a.reg, federation.BearerConfig{Realm: "\n"})
}

func TestPrincipalContext(t *testing.T) {
	if _, ok := federation.PrincipalFrom(context.Background()); ok {
		t.Fatal("an empty context has a principal")
	}
	p := &federation.Principal{Provider: "oidc:acme"}
	if got, ok := federation.PrincipalFrom(federation.ContextWithPrincipal(context.Background(), p)); !ok || got != p {
		t.Fatal("ContextWithPrincipal did not round-trip")
	}
}
