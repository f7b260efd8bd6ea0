package federation_test

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/oidcfed/oidcfed/federation"
	"github.com/oidcfed/oidcfed/federation/federationtest"
)

// dpopAPI is an API behind the bearer middleware with cfg, at a provider
// whose DPoP-bound tokens it accepts.
type dpopAPI struct {
	op   *federationtest.Provider
	srv  *httptest.Server
	errs *loggedErrors
	key  *ecdsa.PrivateKey // the client's DPoP key
	jkt  string
}

func newDPoPAPI(t testing.TB, cfg federation.BearerConfig) *dpopAPI {
	t.Helper()
	a := &dpopAPI{op: federationtest.New(t, federationtest.Options{Algorithm: "ES256"}), errs: &loggedErrors{}}
	a.key, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	thumb, _ := (&jose.JSONWebKey{Key: a.key.Public()}).Thumbprint(crypto.SHA256)
	a.jkt = base64.RawURLEncoding.EncodeToString(thumb)
	reg, err := federation.NewRegistry(federation.Config{Providers: map[string]federation.ProviderConfig{
		"acme": {Issuer: a.op.Issuer(), ClientID: "api-1", ClientSecret: "x"}}},
		federation.WithLogger(slog.New(errorLog{next: slog.NewTextHandler(io.Discard, nil), errs: a.errs})))
	if err != nil {
		t.Fatal(err)
	}
	a.srv = httptest.NewServer(federation.RequireBearer(reg, cfg)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := federation.PrincipalFrom(r.Context())
		fmt.Fprintf(w, "%s %s", p.User.Subject, p.KeyThumbprint)
	})))
	t.Cleanup(a.srv.Close)
	return a
}

// token is an access token bound to jkt ("" for a plain one).
func (a *dpopAPI) token(jkt string) string {
	c := map[string]any{"iss": a.op.Issuer(), "sub": "alice", "aud": "api-1", "iat": time.Now().Unix(),
		"exp": time.Now().Add(time.Hour).Unix()}
	if jkt != "" {
		c["cnf"] = map[string]string{"jkt": jkt}
	}
	return a.op.SignJWT("at+jwt", c)
}

// proof is a DPoP proof for method and u with token, signed by key,
// claims edited by edit; header "typ" and the embedded jwk by default.
func proof(t testing.TB, key crypto.Signer, alg jose.SignatureAlgorithm, method, u, token string,
	edit func(c map[string]any)) string {
	t.Helper()
	sum := sha256.Sum256([]byte(token))
	c := map[string]any{"jti": rand.Text(), "htm": method, "htu": u, "iat": time.Now().Unix(),
		"ath": base64.RawURLEncoding.EncodeToString(sum[:])}
	if edit != nil {
		edit(c)
	}
	payload, _ := json.Marshal(c)
	opts := (&jose.SignerOptions{EmbedJWK: true}).WithType("dpop+jwt")
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
	if err != nil {
		t.Fatal(err)
	}
	jws, _ := s.Sign(payload)
	out, _ := jws.CompactSerialize()
	return out
}

// call sends GET /me with the Authorization and DPoP headers.
func (a *dpopAPI) call(t *testing.T, authz string, dpop ...string) (int, http.Header, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, a.srv.URL+"/me", nil)
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	for _, d := range dpop {
		req.Header.Add("DPoP", d)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body bytes.Buffer
	body.ReadFrom(resp.Body)
	return resp.StatusCode, resp.Header, body.String()
}

func TestDPoPAccepted(t *testing.T) {
	a := newDPoPAPI(t, federation.BearerConfig{DPoP: federation.DPoPAllowed})
	tok := a.token(a.jkt)
	status, _, body := a.call(t, "DPoP "+tok, proof(t, a.key, jose.ES256, "GET", a.srv.URL+"/me", tok, nil))
	if status != http.StatusOK || body != "alice "+a.jkt {
		t.Fatalf("%d %s", status, body)
	}
	// A plain token is still a Bearer token.
	if status, _, body := a.call(t, "Bearer "+a.token("")); status != http.StatusOK || body != "alice " {
		t.Fatalf("a plain Bearer token: %d %s", status, body)
	}
	// Behind a proxy, htu names the public origin.
	b := newDPoPAPI(t, federation.BearerConfig{DPoP: federation.DPoPRequired, BaseURL: "https://api.example.com"})
	tok = b.token(b.jkt)
	if status, _, body := b.call(t, "DPoP "+tok, proof(t, b.key, jose.ES256, "GET", "https://API.example.com:443/me", tok, nil)); status != http.StatusOK {
		t.Fatalf("behind a proxy: %d %s", status, body)
	}
}

// TestDPoPRejections: each bad proof or presentation, with the exact
// error and challenge.
func TestDPoPRejections(t *testing.T) {
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	for _, tc := range []struct {
		name      string
		cfg       string
		send      func(t *testing.T, a *dpopAPI) (int, http.Header, string)
		code      string
		cause     error
		challenge string // the WWW-Authenticate value that carries the error
	}{
		{"a replayed proof", federation.DPoPAllowed, func(t *testing.T, a *dpopAPI) (int, http.Header, string) {
			tok := a.token(a.jkt)
			p := proof(t, a.key, jose.ES256, "GET", a.srv.URL+"/me", tok, nil)
			a.call(t, "DPoP "+tok, p)
			return a.call(t, "DPoP "+tok, p)
		}, "invalid_dpop_proof", federation.ErrDPoPReplayed, "DPoP"},
		{"a proof for another URL", federation.DPoPAllowed, func(t *testing.T, a *dpopAPI) (int, http.Header, string) {
			tok := a.token(a.jkt)
			return a.call(t, "DPoP "+tok, proof(t, a.key, jose.ES256, "GET", a.srv.URL+"/admin", tok, nil))
		}, "invalid_dpop_proof", federation.ErrDPoPProof, "DPoP"},
		{"a proof for another method", federation.DPoPAllowed, func(t *testing.T, a *dpopAPI) (int, http.Header, string) {
			tok := a.token(a.jkt)
			return a.call(t, "DPoP "+tok, proof(t, a.key, jose.ES256, "POST", a.srv.URL+"/me", tok, nil))
		}, "invalid_dpop_proof", federation.ErrDPoPProof, "DPoP"},
		{"a stale iat", federation.DPoPAllowed, func(t *testing.T, a *dpopAPI) (int, http.Header, string) {
			tok := a.token(a.jkt)
			return a.call(t, "DPoP "+tok, proof(t, a.key, jose.ES256, "GET", a.srv.URL+"/me", tok,
				func(c map[string]any) { c["iat"] = time.Now().Add(-5 * time.Minute).Unix() }))
		}, "invalid_dpop_proof", federation.ErrDPoPProof, "DPoP"},
		{"a proof by another key", federation.DPoPAllowed, func(t *testing.T, a *dpopAPI) (int, http.Header, string) {
			tok := a.token(a.jkt)
			return a.call(t, "DPoP "+tok, proof(t, other, jose.ES256, "GET", a.srv.URL+"/me", tok, nil))
		}, "invalid_dpop_proof", federation.ErrDPoPKey, "DPoP"},
		{"an HS256 proof", federation.DPoPAllowed, func(t *testing.T, a *dpopAPI) (int, http.Header, string) {
			tok := a.token(a.jkt)
			s, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: bytes.Repeat([]byte{1}, 32)},
				(&jose.SignerOptions{}).WithType("dpop+jwt"))
			jws, _ := s.Sign([]byte(`{"jti":"x","htm":"GET","iat":1}`))
			p, _ := jws.CompactSerialize()
			return a.call(t, "DPoP "+tok, p)
		}, "invalid_dpop_proof", federation.ErrDPoPProof, "DPoP"},
		{"an alg none proof", federation.DPoPAllowed, func(t *testing.T, a *dpopAPI) (int, http.Header, string) {
			tok := a.token(a.jkt)
			p := base64.RawURLEncoding.EncodeToString([]byte(`{"typ":"dpop+jwt","alg":"none"}`)) + "." +
				base64.RawURLEncoding.EncodeToString([]byte(`{"jti":"x","htm":"GET"}`)) + "."
			return a.call(t, "DPoP "+tok, p)
		}, "invalid_dpop_proof", federation.ErrDPoPProof, "DPoP"},
		{"no ath", federation.DPoPAllowed, func(t *testing.T, a *dpopAPI) (int, http.Header, string) {
			tok := a.token(a.jkt)
			return a.call(t, "DPoP "+tok, proof(t, a.key, jose.ES256, "GET", a.srv.URL+"/me", tok,
				func(c map[string]any) { delete(c, "ath") }))
		}, "invalid_dpop_proof", federation.ErrDPoPProof, "DPoP"},
		{"two proofs", federation.DPoPAllowed, func(t *testing.T, a *dpopAPI) (int, http.Header, string) {
			tok := a.token(a.jkt)
			p := proof(t, a.key, jose.ES256, "GET", a.srv.URL+"/me", tok, nil)
			return a.call(t, "DPoP "+tok, p, p)
		}, "invalid_dpop_proof", federation.ErrDPoPProof, "DPoP"},
		{"no proof", federation.DPoPAllowed, func(t *testing.T, a *dpopAPI) (int, http.Header, string) {
			return a.call(t, "DPoP "+a.token(a.jkt))
		}, "invalid_dpop_proof", federation.ErrDPoPProof, "DPoP"},
		{"a bound token as Bearer", federation.DPoPAllowed, func(t *testing.T, a *dpopAPI) (int, http.Header, string) {
			return a.call(t, "Bearer "+a.token(a.jkt))
		}, "invalid_token", federation.ErrSenderConstrained, "Bearer"},
		{"a bound token as Bearer, DPoP off", federation.DPoPOff, func(t *testing.T, a *dpopAPI) (int, http.Header, string) {
			return a.call(t, "Bearer "+a.token(a.jkt))
		}, "invalid_token", federation.ErrSenderConstrained, "Bearer"},
		{"an unbound token with DPoP", federation.DPoPAllowed, func(t *testing.T, a *dpopAPI) (int, http.Header, string) {
			tok := a.token("")
			return a.call(t, "DPoP "+tok, proof(t, a.key, jose.ES256, "GET", a.srv.URL+"/me", tok, nil))
		}, "invalid_token", federation.ErrDPoPNotBound, "DPoP"},
		{"Bearer where DPoP is required", federation.DPoPRequired, func(t *testing.T, a *dpopAPI) (int, http.Header, string) {
			return a.call(t, "Bearer "+a.token(""))
		}, "invalid_token", federation.ErrDPoPRequired, "DPoP"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newDPoPAPI(t, federation.BearerConfig{DPoP: tc.cfg})
			status, h, body := tc.send(t, a)
			var carrying string
			for _, c := range h.Values("WWW-Authenticate") {
				if strings.Contains(c, `error="`+tc.code+`"`) {
					carrying = c
				}
			}
			if status != http.StatusUnauthorized || !strings.Contains(body, `"error":"`+tc.code+`"`) ||
				!strings.HasPrefix(carrying, tc.challenge+" ") || a.errs.count(tc.cause) == 0 {
				t.Fatalf("%d %v %s; logged %v, want %s caused by %v on the %s challenge", status, h.Values("WWW-Authenticate"),
					body, a.errs.errs, tc.code, tc.cause, tc.challenge)
			}
			if first := h.Values("WWW-Authenticate")[0]; tc.cfg != federation.DPoPRequired && !strings.HasPrefix(first, "Bearer ") {
				t.Fatalf("the first challenge is %q, want Bearer", first)
			}
		})
	}
}

// TestDPoPChallenges: without a token, each accepted scheme is offered,
// Bearer first.
func TestDPoPChallenges(t *testing.T) {
	for cfg, want := range map[string][]string{
		federation.DPoPOff:      {`Bearer realm="api"`},
		federation.DPoPAllowed:  {`Bearer realm="api"`, `DPoP algs="ES256 ES384 PS256 RS256 EdDSA"`},
		federation.DPoPRequired: {`DPoP algs="ES256 ES384 PS256 RS256 EdDSA"`},
	} {
		a := newDPoPAPI(t, federation.BearerConfig{DPoP: cfg})
		status, h, _ := a.call(t, "")
		if got := h.Values("WWW-Authenticate"); status != http.StatusUnauthorized || fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("DPoP %s: %d %q, want %q", cfg, status, got, want)
		}
	}
	if _, err := federation.NewBearer(newRP(t, federationtest.Options{}).reg, federation.BearerConfig{DPoP: "yes"}); err == nil {
		t.Fatal("DPoP \"yes\" accepted")
	}
}

// TestDPoPProofKeys: the ES256 fast path and the other algorithms agree
// on thumbprints; a jwk with its private part, a tampered signature and a
// point off the curve are refused.
func TestDPoPProofKeys(t *testing.T) {
	a := newDPoPAPI(t, federation.BearerConfig{DPoP: federation.DPoPRequired})
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	thumb, _ := (&jose.JSONWebKey{Key: p384.Public()}).Thumbprint(crypto.SHA256)
	tok := a.token(base64.RawURLEncoding.EncodeToString(thumb))
	if status, _, body := a.call(t, "DPoP "+tok, proof(t, p384, jose.ES384, "GET", a.srv.URL+"/me", tok, nil)); status != http.StatusOK {
		t.Fatalf("an ES384 proof: %d %s", status, body)
	}
	tok = a.token(a.jkt)
	good := proof(t, a.key, jose.ES256, "GET", a.srv.URL+"/me", tok, nil)
	h64, rest, _ := strings.Cut(good, ".")
	hdr, _ := base64.RawURLEncoding.DecodeString(h64)
	var m map[string]any
	json.Unmarshal(hdr, &m)
	withJWK := func(edit func(jwk map[string]any)) string {
		c := map[string]any{}
		for k, v := range m {
			c[k] = v
		}
		jwk := map[string]any{}
		for k, v := range m["jwk"].(map[string]any) {
			jwk[k] = v
		}
		edit(jwk)
		c["jwk"] = jwk
		b, _ := json.Marshal(c)
		return base64.RawURLEncoding.EncodeToString(b) + "." + rest
	}
	sig := good[strings.LastIndex(good, ".")+1:]
	flipped := []byte(sig)
	flipped[5] ^= 1
	for name, p := range map[string]string{
		"a private jwk":        withJWK(func(j map[string]any) { j["d"] = base64.RawURLEncoding.EncodeToString(a.key.D.Bytes()) }),
		"a point off P-256":    withJWK(func(j map[string]any) { j["y"] = j["x"] }),
		"a tampered signature": good[:strings.LastIndex(good, ".")+1] + string(flipped),
	} {
		status, _, body := a.call(t, "DPoP "+tok, p)
		if status != http.StatusUnauthorized || !strings.Contains(body, "invalid_dpop_proof") {
			t.Errorf("%s: %d %s", name, status, body)
		}
	}
}
