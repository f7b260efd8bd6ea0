package federation_test

// Request objects by reference: RFC 9101 §5.2, OpenID Connect Core 1.0
// §6.2 (modules oidcc-client-test-request-uri-signed-rs256 and
// oidcc-client-test-request-uri-signed-none).

import (
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/oidcfed/oidcfed/federation"
	"github.com/oidcfed/oidcfed/federation/federationtest"
	"github.com/oidcfed/oidcfed/internal/clock"
	"github.com/oidcfed/oidcfed/session"
)

// requestURIRP is a relying party that sends signed request objects by
// reference, registered at the provider with its JWKS route's keys.
func requestURIRP(t *testing.T, o rpOptions) *rp {
	t.Helper()
	prev := o.provider
	o.provider = func(pc *federation.ProviderConfig) {
		pc.ClientKey, _ = federation.NewClientKey(jweRSA, "")
		pc.RequestObject, pc.RequestURI = "signed", true
		if prev != nil {
			prev(pc)
		}
	}
	opts, setup := encryptingRP(o.op, jweRSA, func(*federation.ProviderConfig) {}, func(*federationtest.Client) {})
	o.op = opts.op
	r := newRPWith(t, o)
	setup(r)
	return r
}

// requestURI builds an authorization URL and returns its request_uri.
func requestURI(t *testing.T, reg *federation.Registry, redirect string) (string, url.Values) {
	t.Helper()
	p, _ := reg.Lookup("oidc:acme")
	u, err := p.AuthCodeURL(t.Context(), &session.FlowState{State: "st", Nonce: "nc"}, redirect)
	if err != nil {
		t.Fatal(err)
	}
	pu, _ := url.Parse(u)
	return pu.Query().Get("request_uri"), pu.Query()
}

func fetch(t *testing.T, u string) (int, string, string) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Content-Type"), string(body)
}

func TestRequestURISigned(t *testing.T) {
	r := requestURIRP(t, rpOptions{})
	r.signedIn(t)
	if seen := r.op.AuthorizationsSeen(); len(seen) != 1 || seen[0] != "request_uri" || r.op.RequestURIFetches() != 1 {
		t.Fatalf("authorizations %v, %d fetches; want one by request_uri", seen, r.op.RequestURIFetches())
	}
}

// TestRequestURIServedOnce: the URL carries only client_id,
// response_type, scope and request_uri; the object is served once, as
// application/oauth-authz-req+jwt, and holds the rest.
func TestRequestURIServedOnce(t *testing.T) {
	r := requestURIRP(t, rpOptions{})
	uri, q := requestURI(t, r.reg, r.srv.URL+"/auth/oauth/oidc:acme/callback")
	for _, k := range []string{"state", "nonce", "code_challenge", "redirect_uri"} {
		if q.Has(k) {
			t.Fatalf("the URL carries %s: %v", k, q)
		}
	}
	if !strings.HasPrefix(uri, r.srv.URL+"/auth/oauth/oidc:acme/request/") || q.Get("client_id") != "client-1" ||
		q.Get("response_type") != "code" || q.Get("scope") == "" {
		t.Fatalf("request_uri %q, query %v", uri, q)
	}
	head, err := http.Head(uri)
	if err != nil || head.StatusCode != http.StatusOK {
		t.Fatalf("HEAD: %v %v", head, err)
	}
	head.Body.Close()
	status, ct, body := fetch(t, uri)
	if status != http.StatusOK || ct != "application/oauth-authz-req+jwt" || strings.Count(body, ".") != 2 {
		t.Fatalf("first fetch: %d %q %q", status, ct, body)
	}
	if status, _, _ := fetch(t, uri); status != http.StatusNotFound {
		t.Fatalf("second fetch: %d, want 404", status)
	}
	for _, bad := range []string{uri + "x", r.srv.URL + "/auth/oauth/oidc:acme/request/", r.srv.URL + "/auth/oauth/oidc:acme/request/a.b", r.srv.URL + "/auth/oauth/oidc:beta/request/x"} {
		if status, _, _ := fetch(t, bad); status != http.StatusNotFound {
			t.Fatalf("%s: %d, want 404", bad, status)
		}
	}
}

// TestRequestURIExpires: an object not fetched within 5 minutes is gone.
func TestRequestURIExpires(t *testing.T) {
	clk := clock.NewFake(time.Now())
	r := requestURIRP(t, rpOptions{now: clk.Now, opts: []federation.Option{federation.WithValueStore(
		session.NewMemoryValues(session.ValuesConfig{Now: clk.Now}))}})
	uri, _ := requestURI(t, r.reg, r.srv.URL+"/auth/oauth/oidc:acme/callback")
	clk.Advance(5 * time.Minute)
	if status, _, _ := fetch(t, uri); status != http.StatusNotFound {
		t.Fatalf("after 5 minutes: %d, want 404", status)
	}
}

// TestRequestURIAcrossInstances: the instance that built the request is
// not the one the provider fetches from; they share the value store.
func TestRequestURIAcrossInstances(t *testing.T) {
	store := session.NewMemoryValues(session.ValuesConfig{})
	r := requestURIRP(t, rpOptions{opts: []federation.Option{federation.WithValueStore(store)}})
	ck, _ := federation.NewClientKey(jweRSA, "")
	reg := r.secondInstance(t, federation.ProviderConfig{Issuer: r.op.Issuer(), ClientID: "client-1",
		ClientSecret: "s3cret-value", ClientKey: ck, RequestObject: "signed", RequestURI: true},
		federation.WithValueStore(store))
	uri, _ := requestURI(t, reg, r.srv.URL+"/auth/oauth/oidc:acme/callback")
	if status, _, _ := fetch(t, uri); status != http.StatusOK { // served by r's handler
		t.Fatalf("fetched from the other instance: %d", status)
	}
}

// TestRequestURIUnsigned: with registration "dynamic" the client
// registers request_object_signing_alg none and sends unsigned objects by
// reference, which the provider takes from that client only.
func TestRequestURIUnsigned(t *testing.T) {
	r := dynamicRP(t, federationtest.Options{}, func(pc *federation.ProviderConfig) {
		pc.RequestObject, pc.RequestURI = "none", true
	})
	r.signedIn(t)
	if c := r.op.Client(clientOf(r)); c.RequestObjectAlg != "none" {
		t.Fatalf("registered request_object_signing_alg %q, want none", c.RequestObjectAlg)
	}
	if seen := r.op.AuthorizationsSeen(); seen[len(seen)-1] != "request_uri" {
		t.Fatalf("authorizations %v", seen)
	}
}

func TestRequestURIRejections(t *testing.T) {
	for _, tt := range []struct {
		name string
		doc  func(d map[string]any)
	}{
		{"a provider that requires request_uri registration", func(d map[string]any) { d["require_request_uri_registration"] = true }},
		{"a provider that takes no request_uri", func(d map[string]any) { d["request_uri_parameter_supported"] = false }},
		{"a provider that requires PAR", func(d map[string]any) {
			d["require_pushed_authorization_requests"], d["pushed_authorization_request_endpoint"] = true, d["issuer"].(string)+"/par"
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := requestURIRP(t, rpOptions{})
			r.op.Misbehave(federationtest.Misbehavior{Discovery: tt.doc})
			p, _ := r.reg.Lookup("oidc:acme")
			_, err := p.AuthCodeURL(t.Context(), &session.FlowState{State: "s"}, r.srv.URL+"/cb")
			if !errors.Is(err, federation.ErrRequestURI) {
				t.Fatalf("err = %v, want ErrRequestURI", err)
			}
			if c := checkNamed(t, r, "request_uri"); c.Status != federation.CheckFail {
				t.Fatalf("Check: %+v, want fail", c)
			}
		})
	}
	for _, tt := range []struct {
		name  string
		pc    federation.ProviderConfig
		field string
	}{
		{"requestUri without requestObject", federation.ProviderConfig{RequestURI: true}, "requestUri"},
		{"requestUri with PAR", federation.ProviderConfig{RequestURI: true, RequestObject: "signed",
			PushedAuthorization: "auto"}, "requestUri"},
		{"an unsigned request object of a static client", federation.ProviderConfig{RequestURI: true,
			RequestObject: "none"}, "requestObject"},
		{"an unsigned request object by value", federation.ProviderConfig{RequestObject: "none"}, "requestObject"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			pc := tt.pc
			pc.Issuer, pc.ClientID, pc.ClientSecret = "https://op.example", "c", "s"
			if pc.RequestObject == "signed" {
				pc.ClientKey, _ = federation.NewClientKey(jweRSA, "")
			}
			_, err := federation.NewRegistry(federation.Config{Providers: map[string]federation.ProviderConfig{"acme": pc}})
			var found bool
			for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
				if ce, ok := e.(*federation.ConfigError); ok && ce.Field == tt.field {
					found = true
				}
			}
			if !found {
				t.Fatalf("err = %v, want a ConfigError on %s", err, tt.field)
			}
		})
	}
}
