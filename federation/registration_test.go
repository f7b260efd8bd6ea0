package federation_test

// Dynamic client registration: RFC 7591, OpenID Connect Dynamic Client
// Registration 1.0 (module oidcc-client-test-dynamic-registration).

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oidcfed/oidcfed/federation"
	"github.com/oidcfed/oidcfed/federation/federationtest"
	"github.com/oidcfed/oidcfed/internal/clock"
	"github.com/oidcfed/oidcfed/session"
)

// dynamicRP is a relying party whose provider registers it dynamically;
// edit adjusts the provider's config further.
func dynamicRP(t *testing.T, op federationtest.Options, edit func(pc *federation.ProviderConfig),
	opts ...federation.Option) *rp {
	t.Helper()
	op.Registration = true
	if op.TokenAuthMethods == nil {
		op.TokenAuthMethods = []string{"client_secret_basic", "private_key_jwt", "client_secret_jwt"}
	}
	return newRPWith(t, rpOptions{op: op, opts: opts, provider: func(pc *federation.ProviderConfig) {
		pc.ClientID, pc.ClientSecret, pc.Registration = "", "", "dynamic"
		if edit != nil {
			edit(pc)
		}
	}})
}

// signedIn signs in once and fails the test unless it lands at /next.
func (r *rp) signedIn(t *testing.T) *federation.Login {
	t.Helper()
	n := r.loginCount()
	resp := r.signIn(newBrowser(t), "/next")
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/next" || r.loginCount() != n+1 {
		t.Fatalf("sign-in: %d to %q; logs:\n%s", resp.StatusCode, resp.Header.Get("Location"), r.logs)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.logins[len(r.logins)-1]
}

func TestDynamicRegistration(t *testing.T) {
	var mu sync.Mutex
	var steps []federation.StepEvent
	r := dynamicRP(t, federationtest.Options{}, nil, federation.WithObserver(federation.Observer{
		Step: func(_ context.Context, e federation.StepEvent) {
			if e.Step == federation.StepRegistration {
				mu.Lock()
				steps = append(steps, e)
				mu.Unlock()
			}
		}}))
	r.signedIn(t)
	r.signedIn(t)
	if n := r.op.Registrations(); n != 1 {
		t.Fatalf("%d registrations for two sign-ins, want 1", n)
	}
	mu.Lock()
	if len(steps) != 1 || steps[0].Code != "" || steps[0].Provider != "oidc:acme" {
		t.Fatalf("registration steps %+v, want one that succeeded", steps)
	}
	mu.Unlock()
	if c := checkNamed(t, r, "registration"); c.Status != federation.CheckOK || !strings.Contains(c.Detail, "dyn-") {
		t.Fatalf("Check: %+v", c)
	}
	if strings.Contains(r.logs.String(), r.op.Client(clientOf(r)).Secret) {
		t.Fatal("the registered client secret reached the log")
	}
}

// secondInstance is another instance of r's application: a registry with
// acme's config pc and a handler on r's base URL (which r's server
// answers for both), for what instances must share.
func (r *rp) secondInstance(t *testing.T, pc federation.ProviderConfig, opts ...federation.Option) *federation.Registry {
	t.Helper()
	reg, err := federation.NewRegistry(federation.Config{Providers: map[string]federation.ProviderConfig{"acme": pc}},
		opts...)
	if err != nil {
		t.Fatal(err)
	}
	flows, _ := session.NewCookieStore(session.CookieConfig{Keys: [][]byte{bytes.Repeat([]byte{7}, 32)}})
	if _, err := federation.NewHandler(federation.HandlerConfig{Registry: reg, BaseURL: r.srv.URL, Flows: flows,
		Accounts: federation.SignInOrCreate{Store: federation.NewMemoryAccounts()},
		OnLogin:  func(http.ResponseWriter, *http.Request, *federation.Login) error { return nil }}); err != nil {
		t.Fatal(err)
	}
	return reg
}

// clientOf is the one registered client of r's provider.
func clientOf(r *rp) string {
	for _, id := range r.op.ClientIDs() {
		if strings.HasPrefix(id, "dyn-") {
			return id
		}
	}
	return ""
}

// TestDynamicRegistrationPrivateKeyJWT: with a client key the client
// registers private_key_jwt with the JWKS route as its jwks_uri, which the
// provider fetches, and signs in with assertions.
func TestDynamicRegistrationPrivateKeyJWT(t *testing.T) {
	r := dynamicRP(t, federationtest.Options{}, func(pc *federation.ProviderConfig) {
		pc.ClientKey, _ = federation.NewClientKey(jweEC, "k1")
	})
	r.signedIn(t)
	c := r.op.Client(clientOf(r))
	if c.Secret != "" || len(c.Keys) != 1 || c.Keys[0].KeyID != "k1" {
		t.Fatalf("registered %+v, want no secret and the key k1", c)
	}
	if seen := r.op.TokenAuthMethodsSeen(); len(seen) == 0 || seen[len(seen)-1] != "private_key_jwt" {
		t.Fatalf("token endpoint auth %v, want private_key_jwt", seen)
	}
}

// TestDynamicRegistrationEncrypted: the encryption settings are
// registered, and the provider then encrypts to the registered keys.
func TestDynamicRegistrationEncrypted(t *testing.T) {
	r := dynamicRP(t, federationtest.Options{ProfileInUserinfoOnly: true}, func(pc *federation.ProviderConfig) {
		pc.ClientKey, _ = federation.NewClientKey(jweRSA, "")
		pc.IDTokenEncryption = &federation.Encryption{Alg: "RSA-OAEP-256", Enc: "A256GCM"}
		pc.UserinfoEncryption = &federation.Encryption{Alg: "RSA-OAEP"}
	})
	r.signedIn(t)
	c := r.op.Client(clientOf(r))
	if c.IDTokenEncryption == nil || *c.IDTokenEncryption != (federationtest.Encryption{Alg: "RSA-OAEP-256", Enc: "A256GCM"}) ||
		c.UserinfoEncryption == nil || c.UserinfoEncryption.Alg != "RSA-OAEP" {
		t.Fatalf("registered encryption %+v %+v", c.IDTokenEncryption, c.UserinfoEncryption)
	}
}

// TestDynamicRegistrationOnce: concurrent first sign-ins register one
// client.
func TestDynamicRegistrationOnce(t *testing.T) {
	r := dynamicRP(t, federationtest.Options{}, nil)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			resp, err := noRedirects.Get(r.srv.URL + "/auth/oauth/oidc:acme")
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusFound {
				t.Errorf("start: %d", resp.StatusCode)
			}
		})
	}
	wg.Wait()
	if n := r.op.Registrations(); n != 1 {
		t.Fatalf("%d registrations for 16 concurrent starts, want 1", n)
	}
}

// recordingValues is a shared value store that keeps what was put.
type recordingValues struct {
	session.ValueStore
	mu   sync.Mutex
	puts [][]byte
}

func (s *recordingValues) Put(ctx context.Context, key string, value []byte, expires time.Time) error {
	s.mu.Lock()
	s.puts = append(s.puts, bytes.Clone(value))
	s.mu.Unlock()
	return s.ValueStore.Put(ctx, key, value, expires)
}

// TestDynamicRegistrationSharedByInstances: a second instance (another
// registry and handler on the same base URL) over the same value store
// uses the first one's registration, which the store holds sealed.
func TestDynamicRegistrationSharedByInstances(t *testing.T) {
	store := &recordingValues{ValueStore: session.NewMemoryValues(session.ValuesConfig{})}
	key := bytes.Repeat([]byte{9}, 32)
	r := dynamicRP(t, federationtest.Options{}, nil, federation.WithValueStore(store, key))
	r.signedIn(t)
	id := clientOf(r)
	secret := r.op.Client(id).Secret
	reg := r.secondInstance(t, federation.ProviderConfig{Issuer: r.op.Issuer(), Registration: "dynamic"},
		federation.WithValueStore(store, key))
	p, _ := reg.Lookup("oidc:acme")
	u, err := p.AuthCodeURL(t.Context(), &session.FlowState{State: "s", Nonce: "n"}, r.srv.URL+"/auth/oauth/oidc:acme/callback")
	if err != nil || !strings.Contains(u, "client_id="+id) {
		t.Fatalf("second instance: %q %v, want client_id=%s", u, err, id)
	}
	if n := r.op.Registrations(); n != 1 {
		t.Fatalf("%d registrations for two instances, want 1", n)
	}
	store.mu.Lock()
	defer store.mu.Unlock()
	if len(store.puts) != 1 {
		t.Fatalf("%d values stored, want the registration", len(store.puts))
	}
	if bytes.Contains(store.puts[0], []byte(secret)) || bytes.Contains(store.puts[0], []byte(id)) {
		t.Fatal("the stored registration is not sealed")
	}
}

// TestDynamicRegistrationRenewal: a client the provider refuses
// (invalid_client) is registered again at the next sign-in, and so is one
// whose secret is about to expire.
func TestDynamicRegistrationRenewal(t *testing.T) {
	t.Run("invalid_client", func(t *testing.T) {
		r := dynamicRP(t, federationtest.Options{}, nil)
		r.signedIn(t)
		c := r.op.Client(clientOf(r))
		c.Secret = "rotated-at-the-provider"
		r.op.AddClient(c)
		resp := r.signIn(newBrowser(t), "/next")
		if loc := resp.Header.Get("Location"); !strings.Contains(loc, "error=invalid_client") {
			t.Fatalf("with a refused client: %d to %q", resp.StatusCode, loc)
		}
		r.signedIn(t)
		if n := r.op.Registrations(); n != 2 {
			t.Fatalf("%d registrations, want 2", n)
		}
	})
	t.Run("expiry", func(t *testing.T) {
		clk := clock.NewFake(time.Now())
		op := federationtest.Options{RegistrationSecretLifetime: time.Hour}
		op.Registration = true
		op.TokenAuthMethods = []string{"client_secret_basic"}
		r := newRPWith(t, rpOptions{op: op, now: clk.Now, provider: func(pc *federation.ProviderConfig) {
			pc.ClientID, pc.ClientSecret, pc.Registration = "", "", "dynamic"
		}})
		r.op.SetClock(clk.Now)
		r.signedIn(t)
		clk.Advance(58 * time.Minute)
		r.signedIn(t)
		if n := r.op.Registrations(); n != 1 {
			t.Fatalf("%d registrations before the renewal minute, want 1", n)
		}
		clk.Advance(time.Minute)
		r.signedIn(t)
		if n := r.op.Registrations(); n != 2 {
			t.Fatalf("%d registrations within a minute of expiry, want 2", n)
		}
	})
}

func TestDynamicRegistrationRejections(t *testing.T) {
	for _, tt := range []struct {
		name  string
		op    federationtest.Options
		edit  func(pc *federation.ProviderConfig)
		bad   func(answer map[string]any)
		code  string
		cause error
	}{
		{name: "an OAuth error keeps its code", bad: nil, code: "invalid_client_metadata", cause: federation.ErrRegistration,
			edit: func(pc *federation.ProviderConfig) { pc.TokenEndpointAuthMethod = "client_secret_post" }},
		{name: "no client_id", bad: func(a map[string]any) { delete(a, "client_id") }, cause: federation.ErrRegistration},
		{name: "a client_id with a control character", bad: func(a map[string]any) { a["client_id"] = "dyn\n1" },
			cause: federation.ErrRegistration},
		{name: "no client_secret for client_secret_basic", bad: func(a map[string]any) { delete(a, "client_secret") },
			cause: federation.ErrRegistration},
		{name: "another token_endpoint_auth_method", bad: func(a map[string]any) { a["token_endpoint_auth_method"] = "none" },
			cause: federation.ErrRegistration},
		{name: "redirect_uris without ours", bad: func(a map[string]any) { a["redirect_uris"] = []string{"https://evil.example/cb"} },
			cause: federation.ErrRegistration},
		{name: "an expired secret", bad: func(a map[string]any) { a["client_secret_expires_at"] = time.Now().Add(-time.Hour).Unix() },
			cause: federation.ErrRegistration},
		{name: "a client_secret_jwt secret under 32 bytes", bad: func(a map[string]any) { a["client_secret"] = "short" },
			edit:  func(pc *federation.ProviderConfig) { pc.TokenEndpointAuthMethod = "client_secret_jwt" },
			cause: federation.ErrRegistration},
		{name: "id_token encryption other than asked", bad: func(a map[string]any) { a["id_token_encrypted_response_alg"] = "RSA1_5" },
			edit: func(pc *federation.ProviderConfig) {
				pc.ClientKey, _ = federation.NewClientKey(jweRSA, "")
				pc.IDTokenEncryption = &federation.Encryption{Alg: "RSA-OAEP"}
			}, cause: federation.ErrRegistration},
		{name: "a wrong initial access token", op: federationtest.Options{RegistrationToken: "iat-1"}, code: "invalid_token",
			edit: func(pc *federation.ProviderConfig) { pc.RegistrationToken = "iat-2" }, cause: federation.ErrRegistration},
		{name: "the right initial access token", op: federationtest.Options{RegistrationToken: "iat-1"},
			edit: func(pc *federation.ProviderConfig) { pc.RegistrationToken = "iat-1" }},
		{name: "no registration endpoint", cause: federation.ErrRegistration,
			bad: func(map[string]any) {}, edit: func(pc *federation.ProviderConfig) {}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			op := tt.op
			if tt.code == "invalid_client_metadata" {
				op.TokenAuthMethods = []string{"client_secret_basic"}
			}
			r := dynamicRP(t, op, tt.edit)
			if tt.name == "no registration endpoint" {
				r.op.Misbehave(federationtest.Misbehavior{Discovery: func(d map[string]any) { delete(d, "registration_endpoint") }})
			} else if tt.bad != nil {
				r.op.Misbehave(federationtest.Misbehavior{Registration: tt.bad})
			}
			p, _ := r.reg.Lookup("oidc:acme")
			_, err := p.AuthCodeURL(t.Context(), &session.FlowState{State: "s", Nonce: "n"}, r.srv.URL+"/cb")
			if tt.cause == nil {
				if err != nil || r.op.Registrations() != 1 {
					t.Fatalf("err = %v, %d registrations; want one", err, r.op.Registrations())
				}
				return
			}
			if !errors.Is(err, tt.cause) {
				t.Fatalf("err = %v, want %v", err, tt.cause)
			}
			if fe, ok := errors.AsType[*federation.Error](err); !ok || tt.code != "" && string(fe.Code) != tt.code {
				t.Fatalf("err = %#v, want an *Error with code %q", err, tt.code)
			}
			if strings.Contains(err.Error(), "iat-") {
				t.Fatal("the initial access token is in the error")
			}
		})
	}
}

func TestDynamicRegistrationNeedsHandler(t *testing.T) {
	op := federationtest.New(t, federationtest.Options{Registration: true})
	reg, err := federation.NewRegistry(federation.Config{Providers: map[string]federation.ProviderConfig{
		"acme": {Issuer: op.Issuer(), Registration: "dynamic"}}})
	if err != nil {
		t.Fatal(err)
	}
	p, _ := reg.Lookup("oidc:acme")
	if _, err := p.AuthCodeURL(context.Background(), &session.FlowState{State: "s"}, "http://127.0.0.1/cb"); !errors.Is(err, federation.ErrNoHandler) {
		t.Fatalf("err = %v, want ErrNoHandler", err)
	}
}

func TestDynamicRegistrationConfig(t *testing.T) {
	for _, tt := range []struct {
		name  string
		pc    federation.ProviderConfig
		field string
	}{
		{"a clientId with dynamic", federation.ProviderConfig{ClientID: "c"}, "clientId"},
		{"a clientSecret with dynamic", federation.ProviderConfig{ClientSecret: "s"}, "clientSecret"},
		{"a registrationToken with static", federation.ProviderConfig{Registration: "static", ClientID: "c",
			ClientSecret: "s", RegistrationToken: "t"}, "registrationToken"},
		{"an unknown registration", federation.ProviderConfig{Registration: "automatic"}, "registration"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			pc := tt.pc
			pc.Issuer = "https://op.example"
			if pc.Registration == "" {
				pc.Registration = "dynamic"
			}
			_, err := federation.NewRegistry(federation.Config{Providers: map[string]federation.ProviderConfig{"acme": pc}})
			if ce, ok := errors.AsType[*federation.ConfigError](err); !ok || ce.Field != tt.field {
				t.Fatalf("err = %v, want a ConfigError on %s", err, tt.field)
			}
		})
	}
	t.Run("a shared store without keys", func(t *testing.T) {
		_, err := federation.NewRegistry(federation.Config{}, federation.WithValueStore(struct{ session.ValueStore }{}))
		if ce, ok := errors.AsType[*federation.ConfigError](err); !ok || ce.Field != "valueStore" {
			t.Fatalf("err = %v, want a ConfigError on valueStore", err)
		}
	})
}

// TestDynamicRegistrationRequest: what is registered, for a client with
// a certificate (tls_client_auth) and logout routes.
func TestDynamicRegistrationRequest(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	cert := certificate(t, key, "app.example", nil, nil, time.Hour)
	var got map[string]any
	r := dynamicRP(t, federationtest.Options{}, func(pc *federation.ProviderConfig) {
		pc.TokenEndpointAuthMethod = "tls_client_auth"
		pc.ClientKeyFile, pc.ClientCertificateFile = keyFile(t, key), certFile(t, cert)
		pc.PostLogoutRedirectURIs = []string{"http://127.0.0.1/bye"}
	})
	r.op.Misbehave(federationtest.Misbehavior{RegistrationEndpoint: func(w http.ResponseWriter, req *http.Request) {
		json.NewDecoder(req.Body).Decode(&got)
		w.WriteHeader(http.StatusBadRequest)
		w.Write([]byte(`{"error":"invalid_client_metadata"}`))
	}})
	p, _ := r.reg.Lookup("oidc:acme")
	p.AuthCodeURL(t.Context(), &session.FlowState{State: "s"}, r.srv.URL+"/cb")
	base := r.srv.URL + "/auth/oauth/"
	want := map[string]any{
		"redirect_uris":              []any{base + "oidc:acme/callback", base + "link/oidc:acme/callback"},
		"response_types":             []any{"code"},
		"grant_types":                []any{"authorization_code", "refresh_token"},
		"application_type":           "web",
		"token_endpoint_auth_method": "tls_client_auth",
		"tls_client_auth_subject_dn": cert.Subject.String(),
		"jwks_uri":                   base + "oidc:acme/jwks",
		"scope":                      "openid email profile",
		"post_logout_redirect_uris":  []any{"http://127.0.0.1/bye"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("registered\n%v\nwant\n%v", got, want)
	}
}
