package federation_test

// Token-response rules: RFC 6749 §5.1-5.2, OpenID Connect Core 1.0
// §3.1.3.3-3.1.3.4, and what a client must survive from a broken endpoint.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/oidcfed/oidcfed/federation"
	"github.com/oidcfed/oidcfed/federation/federationtest"
)

func tokenEndpoint(status int, contentType, body string) federationtest.Misbehavior {
	return federationtest.Misbehavior{TokenEndpoint: func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", contentType)
		w.WriteHeader(status)
		w.Write([]byte(body))
	}}
}

func TestTokenResponseRules(t *testing.T) {
	tokenBody := func(edit func(b map[string]any)) federationtest.Misbehavior {
		return federationtest.Misbehavior{TokenResponse: edit}
	}
	checkRules(t, []rule{
		{name: "a missing id_token is rejected", bad: tokenBody(func(b map[string]any) { delete(b, "id_token") }), want: "invalid_token", cause: federation.ErrNoIDToken},
		{name: "token_type bearer in lower case is accepted", bad: tokenBody(func(b map[string]any) { b["token_type"] = "bearer" })},
		{name: "token_type BEARER in upper case is accepted", bad: tokenBody(func(b map[string]any) { b["token_type"] = "BEARER" })},
		{name: "a token_type other than Bearer is rejected", bad: tokenBody(func(b map[string]any) { b["token_type"] = "DPoP" }), want: "invalid_token", cause: errString(`want Bearer`)},
		{name: "an error invalid_grant is surfaced as invalid_grant", bad: tokenEndpoint(400, "application/json", `{"error":"invalid_grant"}`), want: "invalid_grant"},
		{name: "an error invalid_client is surfaced as invalid_client", bad: tokenEndpoint(401, "application/json", `{"error":"invalid_client","error_description":"bad secret"}`), want: "invalid_client"},
		{name: "an error code outside the safe alphabet becomes server_error", bad: tokenEndpoint(400, "application/json", `{"error":"<script>alert(1)</script>"}`), want: "server_error"},
		{name: "an HTML error page is provider_unavailable", bad: tokenEndpoint(502, "text/html", `<html><body>Bad gateway</body></html>`), want: "provider_unavailable"},
		{name: "a 200 that is not JSON is provider_unavailable", bad: tokenEndpoint(200, "text/html", `<html>login</html>`), want: "provider_unavailable"},
		{name: "a body over 256 KiB is refused as too large", bad: tokenEndpoint(200, "application/json", `{"access_token":"`+strings.Repeat("a", 2<<20)+`"}`),
			want: "provider_unavailable", cause: errString("is larger than 262144 bytes")},
		{name: "a token endpoint slower than the client timeout is provider_unavailable",
			rp: rpOptions{opts: []federation.Option{federation.WithHTTPClient(&http.Client{Timeout: 500 * time.Millisecond})}},
			bad: federationtest.Misbehavior{TokenEndpoint: func(w http.ResponseWriter, r *http.Request) {
				select {
				case <-r.Context().Done():
				case <-time.After(5 * time.Second):
				}
			}}, want: "provider_unavailable", cause: errString("the identity provider did not answer in time")},
	})
}

// errString is a cause matched by its text in the log.
type errString string

func (e errString) Error() string { return string(e) }

// echoingTokenEndpoint answers like a proxy's error page that echoes the
// request: the form, with the code and code_verifier or refresh token.
func echoingTokenEndpoint(status int, contentType string) federationtest.Misbehavior {
	return federationtest.Misbehavior{TokenEndpoint: func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		w.Header().Set("Content-Type", contentType)
		w.WriteHeader(status)
		if contentType == "application/json" {
			json.NewEncoder(w).Encode(map[string]string{"error": "invalid_request", "error_description": "bad request: " + r.PostForm.Encode()})
			return
		}
		fmt.Fprintf(w, "<html><body>Bad gateway. You sent: %s</body></html>", r.PostForm.Encode())
	}}
}

// TestTokenEndpointBodiesAreNotLogged: an error body that echoes the
// request never reaches the log or the error, at sign-in or refresh; the
// HTTP status and the OAuth error code do.
func TestTokenEndpointBodiesAreNotLogged(t *testing.T) {
	for _, tc := range []struct {
		name, contentType string
		status            int
		code              federation.Code
		logged            string
	}{
		{"an HTML 502 page", "text/html", 502, federation.CodeProviderUnavailable, "token endpoint: HTTP 502 without an OAuth error"},
		{"a JSON error with a description", "application/json", 400, federation.CodeInvalidRequest, "token endpoint: HTTP 400 invalid_request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRP(t, federationtest.Options{})
			b := newBrowser(t)
			r.signIn(b, "/")
			tokens := r.logins[0].Result.Tokens
			p, _ := r.reg.Lookup("oidc:acme")

			var sent []string
			record := federationtest.Misbehavior{TokenEndpoint: func(w http.ResponseWriter, req *http.Request) {
				req.ParseForm()
				for _, k := range []string{"code", "code_verifier", "refresh_token"} {
					if v := req.PostForm.Get(k); v != "" {
						sent = append(sent, v)
					}
				}
				echoingTokenEndpoint(tc.status, tc.contentType).TokenEndpoint(w, req)
			}}
			r.op.Misbehave(record)
			resp := r.signIn(newBrowser(t), "/next")
			loc, _ := url.Parse(resp.Header.Get("Location"))
			if federation.Code(loc.Query().Get("error")) != tc.code {
				t.Fatalf("sign-in ended at %q, want error=%s", loc, tc.code)
			}
			_, err := p.Refresh(context.Background(), tokens)
			wantCode(t, err, tc.code)
			if len(sent) != 3 {
				t.Fatalf("the token endpoint saw %d secrets, want code, code_verifier and refresh_token", len(sent))
			}
			for _, s := range append(sent, "You sent", "bad request") {
				if strings.Contains(r.logs.String(), s) || strings.Contains(err.Error(), s) || strings.Contains(loc.String(), s) {
					t.Errorf("%q reached the log, the error or the redirect:\nlog: %s\nerror: %v", s, r.logs, err)
				}
			}
			if !strings.Contains(r.logs.String(), tc.logged) || !strings.Contains(err.Error(), tc.logged) {
				t.Errorf("the log and the error should say %q:\nlog: %s\nerror: %v", tc.logged, r.logs, err)
			}
		})
	}
}

// TestTokenEndpointRequests: the one token-endpoint client sends the
// client's credentials form-urlencoded inside HTTP Basic (RFC 6749 §2.3.1),
// reads expires_in as a number or a string holding one, and sends a code
// once even when the provider refuses it.
func TestTokenEndpointRequests(t *testing.T) {
	t.Run("Basic credentials are form-urlencoded first", func(t *testing.T) {
		var user, pass string
		r := newRPWith(t, rpOptions{provider: func(pc *federation.ProviderConfig) { pc.ClientSecret = "s3cret:+/ value" }})
		r.op.AddClient(federationtest.Client{ID: "client-1", Secret: "s3cret:+/ value",
			RedirectURIs: []string{r.srv.URL + "/auth/oauth/oidc:acme/callback"}})
		r.op.Misbehave(federationtest.Misbehavior{TokenEndpoint: func(w http.ResponseWriter, req *http.Request) {
			user, pass, _ = req.BasicAuth()
			w.WriteHeader(http.StatusBadRequest)
			w.Write([]byte(`{"error":"invalid_client"}`))
		}})
		r.signIn(newBrowser(t), "/")
		if user != "client-1" || pass != url.QueryEscape("s3cret:+/ value") {
			t.Fatalf("Basic credentials %q:%q, want the form-urlencoded secret", user, pass)
		}
	})
	t.Run("expires_in as a string", func(t *testing.T) {
		r := newRP(t, federationtest.Options{})
		r.op.Misbehave(federationtest.Misbehavior{TokenResponse: func(b map[string]any) { b["expires_in"] = "3600" }})
		before := time.Now()
		if r.signIn(newBrowser(t), "/"); r.loginCount() != 1 {
			t.Fatalf("logs:\n%s", r.logs)
		}
		if exp := r.logins[0].Result.Tokens.Expiry; exp.Before(before.Add(3599*time.Second)) || exp.After(time.Now().Add(3600*time.Second)) {
			t.Fatalf("Expiry %v, want an hour from the request", exp)
		}
	})
	t.Run("a refused code is sent once", func(t *testing.T) {
		calls := 0
		r := newRP(t, federationtest.Options{})
		r.op.Misbehave(federationtest.Misbehavior{TokenEndpoint: func(w http.ResponseWriter, req *http.Request) {
			calls++
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(`{"error":"invalid_client"}`))
		}})
		r.signIn(newBrowser(t), "/")
		if calls != 1 {
			t.Fatalf("the token endpoint was called %d times, want once", calls)
		}
	})
}
