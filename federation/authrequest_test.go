package federation_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/oidcfed/oidcfed/federation"
	"github.com/oidcfed/oidcfed/federation/federationtest"
)

// authURL starts a sign-in at r in b and returns the authorization URL the
// browser is sent to.
func authURL(t *testing.T, r *rp, b *browser) *url.URL {
	t.Helper()
	resp := b.get(r.srv.URL+"/auth/oauth/oidc:acme?redirectTo=/next", func(*url.URL) bool { return true })
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("start answered %d; logs:\n%s", resp.StatusCode, r.logs)
	}
	u, _ := url.Parse(resp.Header.Get("Location"))
	return u
}

// keyedRP is a relying party (options o) whose client has an EC key
// registered at the provider, and edit applied to its config.
func keyedRP(t *testing.T, o rpOptions, edit func(pc *federation.ProviderConfig)) *rp {
	t.Helper()
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ck, _ := federation.NewClientKey(ecKey, "")
	o.provider = func(pc *federation.ProviderConfig) {
		pc.ClientKey = ck
		edit(pc)
	}
	r := newRPWith(t, o)
	r.op.AddClient(federationtest.Client{ID: "client-1", Secret: "s3cret-value", Keys: []jose.JSONWebKey{ck.Public()},
		RedirectURIs: []string{r.srv.URL + "/auth/oauth/oidc:acme/callback"}})
	return r
}

func keys(q url.Values) []string {
	var k []string
	for name := range q {
		k = append(k, name)
	}
	slices.Sort(k)
	return k
}

// TestPushedAuthorization: with PAR the browser's URL carries client_id
// and request_uri only, and the sign-in completes.
func TestPushedAuthorization(t *testing.T) {
	for _, tc := range []struct {
		name, setting, provider string
		pushed                  bool
	}{
		{"auto at a provider with PAR", "auto", "supported", true},
		{"auto at a provider without", "auto", "", false},
		{"required", "required", "supported", true},
		{"never, at a provider that requires it", "", "required", true},
		{"never", "never", "supported", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRPWith(t, rpOptions{op: federationtest.Options{PushedAuthorization: tc.provider},
				provider: func(pc *federation.ProviderConfig) { pc.PushedAuthorization = tc.setting }})
			u := authURL(t, r, newBrowser(t))
			q := u.Query()
			if tc.pushed {
				if got := keys(q); !slices.Equal(got, []string{"client_id", "request_uri"}) ||
					!strings.HasPrefix(q.Get("request_uri"), "urn:ietf:params:oauth:request_uri:") {
					t.Fatalf("authorization URL %s: parameters %v, want client_id and request_uri", u, got)
				}
			} else if !q.Has("code_challenge") || !q.Has("state") || !q.Has("nonce") || q.Has("request_uri") {
				t.Fatalf("authorization URL %s, want the request in it", u)
			}
			signsIn(t, r)
			want := "query"
			if tc.pushed {
				want = "par"
			}
			if seen := r.op.AuthorizationsSeen(); seen[len(seen)-1] != want {
				t.Fatalf("the provider saw %v, want %s", seen, want)
			}
		})
	}
}

// TestPushedAuthorizationAssertionAudience: a client assertion sent to the
// PAR endpoint names the issuer (RFC 9126 §2); at the token endpoint, the
// token endpoint.
func TestPushedAuthorizationAssertionAudience(t *testing.T) {
	rec := &assertionRecorder{}
	r := keyedRP(t, rpOptions{op: federationtest.Options{PushedAuthorization: "supported", TokenAuthMethods: assertionMethods},
		opts: []federation.Option{federation.WithHTTPClient(&http.Client{Transport: rec})}},
		func(pc *federation.ProviderConfig) {
			pc.PushedAuthorization, pc.TokenEndpointAuthMethod, pc.ClientSecret = "required", "private_key_jwt", ""
		})
	signsIn(t, r)
	var auds []any
	for _, a := range rec.sent {
		jws, err := jose.ParseSigned(a, []jose.SignatureAlgorithm{jose.ES256})
		if err != nil {
			t.Fatal(err)
		}
		var c map[string]any
		json.Unmarshal(jws.UnsafePayloadWithoutVerification(), &c)
		auds = append(auds, c["aud"])
	}
	if want := []any{r.op.Issuer(), r.op.Issuer() + "/token"}; !slices.Equal(auds, want) {
		t.Fatalf("assertion audiences %v, want %v (PAR, then the token endpoint)", auds, want)
	}
}

// TestPushedAuthorizationErrors: what the PAR endpoint refuses or answers
// badly fails the start with the provider's code, or provider_unavailable.
func TestPushedAuthorizationErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		par   http.HandlerFunc
		code  string
		cause string
	}{
		{"an OAuth error", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			w.Write([]byte(`{"error":"invalid_request","error_description":"the scope is not allowed"}`))
		}, "invalid_request", "pushed authorization request endpoint: HTTP 400 invalid_request"},
		{"an HTML error page", func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "<html>oops</html>", http.StatusInternalServerError)
		}, "provider_unavailable", "pushed authorization request endpoint: HTTP 500 without an OAuth error"},
		{"no expires_in", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusCreated)
			w.Write([]byte(`{"request_uri":"urn:ietf:params:oauth:request_uri:x"}`))
		}, "provider_unavailable", "is not a positive number of seconds"},
		{"no request_uri", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusCreated)
			w.Write([]byte(`{"expires_in":60}`))
		}, "provider_unavailable", "request_uri missing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRPWith(t, rpOptions{op: federationtest.Options{PushedAuthorization: "supported"},
				provider: func(pc *federation.ProviderConfig) { pc.PushedAuthorization = "required" }})
			r.op.Misbehave(federationtest.Misbehavior{PAREndpoint: tc.par})
			code, body := status(t, r.srv.URL+"/auth/oauth/oidc:acme")
			if code != http.StatusBadGateway || body != tc.code ||
				!strings.Contains(r.logs.String(), tc.cause) {
				t.Fatalf("start answered %d %s, want 502 %s; logs:\n%s", code, body, tc.code, r.logs)
			}
		})
	}
}

// TestPushedAuthorizationRequiredWithoutEndpoint: "required" at a provider
// without PAR fails the start and Check.
func TestPushedAuthorizationRequiredWithoutEndpoint(t *testing.T) {
	r := newRPWith(t, rpOptions{provider: func(pc *federation.ProviderConfig) { pc.PushedAuthorization = "required" }})
	if code, _ := status(t, r.srv.URL+"/auth/oauth/oidc:acme"); code != http.StatusBadGateway ||
		r.errs.count(federation.ErrPushedAuthorization) == 0 {
		t.Fatalf("start answered %d, want 502 with ErrPushedAuthorization logged", code)
	}
	if c := checkNamed(t, r, "pushed_authorization"); c.Status != federation.CheckFail {
		t.Fatalf("Check said %+v", c)
	}
}

// TestExpiredRequestURI: a pushed request used after its expires_in ends
// at redirectTo with the provider's invalid_request_uri.
func TestExpiredRequestURI(t *testing.T) {
	r := newRPWith(t, rpOptions{op: federationtest.Options{PushedAuthorization: "supported"},
		provider: func(pc *federation.ProviderConfig) { pc.PushedAuthorization = "required" }})
	b := newBrowser(t)
	u := authURL(t, r, b)
	r.op.SetClock(func() time.Time { return time.Now().Add(2 * time.Minute) })
	resp := b.get(u.String(), func(next *url.URL) bool { return !strings.HasPrefix(next.Path, "/auth/oauth/") })
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if loc.Path != "/next" || loc.Query().Get("error") != "invalid_request_uri" || r.loginCount() != 0 {
		t.Fatalf("ended at %s, want /next with invalid_request_uri", loc)
	}
}

// TestSignedRequestObject: requestObject "signed" sends the request as a
// JWT signed with the client key: by value (with response_type, client_id
// and scope duplicated as OpenID Connect wants) or pushed.
func TestSignedRequestObject(t *testing.T) {
	for _, tc := range []struct {
		name, push, provider, via string
		params                    []string
	}{
		{"by value", "", "", "request", []string{"client_id", "request", "response_type", "scope"}},
		{"pushed", "required", "supported", "par+request", []string{"client_id", "request_uri"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := keyedRP(t, rpOptions{op: federationtest.Options{PushedAuthorization: tc.provider}}, func(pc *federation.ProviderConfig) {
				pc.RequestObject, pc.PushedAuthorization = "signed", tc.push
			})
			u := authURL(t, r, newBrowser(t))
			if got := keys(u.Query()); !slices.Equal(got, tc.params) {
				t.Fatalf("authorization URL parameters %v, want %v", got, tc.params)
			}
			if tc.via == "request" {
				var c map[string]any
				jws, err := jose.ParseSigned(u.Query().Get("request"), []jose.SignatureAlgorithm{jose.ES256})
				if err != nil {
					t.Fatal(err)
				}
				json.Unmarshal(jws.UnsafePayloadWithoutVerification(), &c)
				if jws.Signatures[0].Header.ExtraHeaders["typ"] != "oauth-authz-req+jwt" || c["iss"] != "client-1" ||
					c["aud"] != r.op.Issuer() || c["code_challenge_method"] != "S256" || c["state"] == nil ||
					c["exp"].(float64)-c["iat"].(float64) != 300 {
					t.Fatalf("request object %v %v", jws.Signatures[0].Header, c)
				}
			}
			signsIn(t, r)
			if seen := r.op.AuthorizationsSeen(); seen[len(seen)-1] != tc.via {
				t.Fatalf("the provider saw %v, want %s", seen, tc.via)
			}
		})
	}
}

// TestRequestObjectRules: requestObject needs a client key, and a key the
// provider's algorithms allow.
func TestRequestObjectRules(t *testing.T) {
	err := federation.Config{Providers: map[string]federation.ProviderConfig{"acme": {Issuer: "https://idp.example.com",
		ClientID: "c", ClientSecret: "s", RequestObject: "signed"}}}.Validate()
	if ce, ok := errors.AsType[*federation.ConfigError](err); !ok || ce.Field != "clientKeyFile" ||
		!strings.Contains(err.Error(), `is required for requestObject "signed" (or ClientKey in code)`) {
		t.Fatalf("Validate = %v", err)
	}
	err = federation.Config{Providers: map[string]federation.ProviderConfig{"acme": {Issuer: "https://idp.example.com",
		ClientID: "c", ClientSecret: "s", RequestObject: "unsigned"}}}.Validate()
	if ce, ok := errors.AsType[*federation.ConfigError](err); !ok || ce.Field != "requestObject" {
		t.Fatalf("Validate = %v", err)
	}
	r := keyedRP(t, rpOptions{}, func(pc *federation.ProviderConfig) { pc.RequestObject = "signed" })
	r.op.Misbehave(federationtest.Misbehavior{Discovery: func(doc map[string]any) {
		doc["request_object_signing_alg_values_supported"] = []string{"RS256"}
	}})
	if code, _ := status(t, r.srv.URL+"/auth/oauth/oidc:acme"); code != http.StatusBadGateway ||
		r.errs.count(federation.ErrRequestObject) == 0 {
		t.Fatalf("start answered %d, want 502 with ErrRequestObject logged", code)
	}
}
