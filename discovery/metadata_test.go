package discovery

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// tlsIdP serves handler over TLS and returns a client that reaches it under
// the name example.com (covered by httptest's certificate) on any port, so
// that non-loopback issuer rules are tested on loopback.
func tlsIdP(t *testing.T, handler http.Handler) *http.Client {
	t.Helper()
	srv := httptest.NewTLSServer(handler)
	t.Cleanup(srv.Close)
	c := srv.Client()
	tr := c.Transport.(*http.Transport).Clone()
	addr := srv.Listener.Addr().String()
	tr.DialContext = func(ctx context.Context, network, hostport string) (net.Conn, error) {
		if host, _, _ := net.SplitHostPort(hostport); host != "example.com" {
			t.Errorf("dial to %s: only example.com is mapped", hostport)
		}
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}
	c.Transport = tr
	return c
}

func docHandler(doc func() map[string]any) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != wellKnown {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(doc())
	})
}

func exampleDoc(iss string) map[string]any {
	return map[string]any{
		"issuer":                 iss,
		"authorization_endpoint": "https://example.com/authorize",
		"token_endpoint":         "https://example.com/token",
		"jwks_uri":               "https://example.com/jwks",
	}
}

func TestDiscoveryValidation(t *testing.T) {
	tests := []struct {
		name      string
		issuer    string // configured
		edit      func(d map[string]any)
		wantErr   error
		wantField string
	}{
		{name: "full URL issuer matching exactly is accepted", issuer: "https://example.com"},
		{name: "bare domain matches an issuer without trailing slash", issuer: "example.com"},
		{name: "bare domain matches an issuer with trailing slash", issuer: "example.com",
			edit: func(d map[string]any) { d["issuer"] = "https://example.com/" }},
		{name: "full URL issuer differing by a trailing slash is rejected", issuer: "https://example.com",
			edit:    func(d map[string]any) { d["issuer"] = "https://example.com/" },
			wantErr: ErrIssuerMismatch, wantField: "issuer"},
		{name: "issuer of another host is rejected", issuer: "https://example.com",
			edit:    func(d map[string]any) { d["issuer"] = "https://evil.example" },
			wantErr: ErrIssuerMismatch, wantField: "issuer"},
		{name: "bare domain does not match an http issuer", issuer: "example.com",
			edit:    func(d map[string]any) { d["issuer"] = "http://example.com" },
			wantErr: ErrIssuerMismatch, wantField: "issuer"},
		{name: "missing issuer is rejected", issuer: "https://example.com",
			edit:    func(d map[string]any) { delete(d, "issuer") },
			wantErr: ErrMissingField, wantField: "issuer"},
		{name: "missing authorization_endpoint is rejected", issuer: "https://example.com",
			edit:    func(d map[string]any) { delete(d, "authorization_endpoint") },
			wantErr: ErrMissingField, wantField: "authorization_endpoint"},
		{name: "missing token_endpoint is rejected", issuer: "https://example.com",
			edit:    func(d map[string]any) { delete(d, "token_endpoint") },
			wantErr: ErrMissingField, wantField: "token_endpoint"},
		{name: "missing jwks_uri is rejected", issuer: "https://example.com",
			edit:    func(d map[string]any) { delete(d, "jwks_uri") },
			wantErr: ErrMissingField, wantField: "jwks_uri"},
		{name: "http token endpoint for a non-loopback issuer is rejected", issuer: "https://example.com",
			edit:    func(d map[string]any) { d["token_endpoint"] = "http://example.com/token" },
			wantErr: ErrInsecureEndpoint, wantField: "token_endpoint"},
		{name: "http loopback jwks_uri for a non-loopback issuer is rejected", issuer: "https://example.com",
			edit:    func(d map[string]any) { d["jwks_uri"] = "http://127.0.0.1/jwks" },
			wantErr: ErrInsecureEndpoint, wantField: "jwks_uri"},
		{name: "http userinfo endpoint is rejected", issuer: "https://example.com",
			edit:    func(d map[string]any) { d["userinfo_endpoint"] = "http://example.com/userinfo" },
			wantErr: ErrInsecureEndpoint, wantField: "userinfo_endpoint"},
		{name: "relative endpoint is rejected", issuer: "https://example.com",
			edit:    func(d map[string]any) { d["authorization_endpoint"] = "/authorize" },
			wantErr: ErrInvalidEndpoint, wantField: "authorization_endpoint"},
		{name: "javascript: endpoint is rejected", issuer: "https://example.com",
			edit:    func(d map[string]any) { d["end_session_endpoint"] = "javascript:alert(1)" },
			wantErr: ErrInvalidEndpoint, wantField: "end_session_endpoint"},
		{name: "response types without code are rejected", issuer: "https://example.com",
			edit:    func(d map[string]any) { d["response_types_supported"] = []string{"id_token"} },
			wantErr: ErrUnsupported, wantField: "response_types_supported"},
		{name: "PKCE methods without S256 are rejected", issuer: "https://example.com",
			edit:    func(d map[string]any) { d["code_challenge_methods_supported"] = []string{"plain"} },
			wantErr: ErrUnsupported, wantField: "code_challenge_methods_supported"},
		{name: "only symmetric or none signing algorithms are rejected", issuer: "https://example.com",
			edit:    func(d map[string]any) { d["id_token_signing_alg_values_supported"] = []string{"HS256", "none"} },
			wantErr: ErrUnsupported, wantField: "id_token_signing_alg_values_supported"},
		{name: "a wrongly typed member makes the document invalid", issuer: "https://example.com",
			edit:    func(d map[string]any) { d["jwks_uri"] = 42 },
			wantErr: ErrNotJSON},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client := tlsIdP(t, docHandler(func() map[string]any {
				d := exampleDoc("https://example.com")
				if tt.edit != nil {
					tt.edit(d)
				}
				return d
			}))
			md, err := Fetch(context.Background(), client, newSource(t, tt.issuer))
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("Fetch: %v", err)
				}
				if md.TokenEndpoint != "https://example.com/token" {
					t.Fatalf("token endpoint = %q", md.TokenEndpoint)
				}
				return
			}
			var me *MetadataError
			if !errors.Is(err, tt.wantErr) || !errors.As(err, &me) || me.Field != tt.wantField {
				t.Fatalf("Fetch error = %v, want %v on field %q", err, tt.wantErr, tt.wantField)
			}
		})
	}
}

func TestDiscoveryTransportRules(t *testing.T) {
	big := strings.Repeat(" ", 1<<20)
	tests := []struct {
		name    string
		handler http.HandlerFunc
		wantErr error
	}{
		{"an HTML page is not JSON", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.Write([]byte("<html>login</html>"))
		}, ErrNotJSON},
		{"a JSON array is not a document", func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(`["issuer"]`))
		}, ErrNotJSON},
		{"a 404 is an HTTP status error", func(w http.ResponseWriter, r *http.Request) {
			http.NotFound(w, r)
		}, ErrHTTPStatus},
		{"a document over 1 MiB is too large", func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(`{"issuer":"https://example.com"` + big + `}`))
		}, ErrResponseTooLarge},
		{"a redirect to another origin is refused", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "https://evil.example/.well-known/openid-configuration", http.StatusFound)
		}, ErrRedirect},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client := tlsIdP(t, tt.handler)
			_, err := Fetch(context.Background(), client, newSource(t, "https://example.com"))
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Fetch error = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func TestParseIssuer(t *testing.T) {
	tests := []struct {
		in        string
		ok        bool
		want      string
		discovery string
	}{
		{"https://idp.example.com", true, "https://idp.example.com", "https://idp.example.com/.well-known/openid-configuration"},
		{"https://idp.example.com/", true, "https://idp.example.com/", "https://idp.example.com/.well-known/openid-configuration"},
		{"https://login.example.com/tenant/v2.0", true, "https://login.example.com/tenant/v2.0", "https://login.example.com/tenant/v2.0/.well-known/openid-configuration"},
		{"example.okta.com", true, "https://example.okta.com", "https://example.okta.com/.well-known/openid-configuration"},
		{"http://127.0.0.1:9000", true, "http://127.0.0.1:9000", "http://127.0.0.1:9000/.well-known/openid-configuration"},
		{"http://idp.example.com", false, "", ""},
		{"https://idp.example.com?x=1", false, "", ""},
		{"https://idp.example.com#frag", false, "", ""},
		{"example.com/path", false, "", ""},
		{"", false, "", ""},
	}
	for _, tt := range tests {
		iss, err := ParseIssuer(tt.in)
		if (err == nil) != tt.ok {
			t.Errorf("ParseIssuer(%q) error = %v, want ok=%v", tt.in, err, tt.ok)
			continue
		}
		if tt.ok && (iss.String() != tt.want || iss.DiscoveryURL() != tt.discovery) {
			t.Errorf("ParseIssuer(%q) = %q, %q; want %q, %q", tt.in, iss, iss.DiscoveryURL(), tt.want, tt.discovery)
		}
	}
}

func TestNewSourceRejectsBadOverrides(t *testing.T) {
	tests := []struct {
		name string
		e    Endpoints
		disc string
	}{
		{"http manual token endpoint", Endpoints{Token: "http://idp.example/token"}, ""},
		{"relative manual jwks", Endpoints{JWKS: "/jwks"}, ""},
		{"http discovery URL", Endpoints{}, "http://idp.example/.well-known/openid-configuration"},
	}
	for _, tt := range tests {
		if _, err := NewSource("https://idp.example", tt.disc, tt.e); err == nil {
			t.Errorf("%s: NewSource accepted it", tt.name)
		}
	}
	if _, err := NewSource("idp.example", "", Endpoints{Authorization: "https://a", Token: "https://t", JWKS: "https://k"}); err == nil {
		t.Error("a bare domain with complete manual endpoints was accepted; its exact issuer is unknown")
	}
}
