package federation

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/oidcfed/oidcfed/internal/randid"
)

// DPoP at the client (RFC 9449): with dpop set on a provider, each
// sign-in gets a fresh ES256 key, sealed in the flow until the callback;
// the code is bound to it (dpop_jkt), and every token request, userinfo
// call and refresh carries a proof signed by it. The tokens that come
// back are bound to it, so a stolen token is useless without the key,
// which [Tokens] carry for refreshing and for calling APIs.

// DPoPKey is a client's DPoP key: an ECDSA P-256 private key. It prints,
// formats and logs as its thumbprint only. Store it only sealed (see
// [DPoPKey.MarshalBinary]).
type DPoPKey struct {
	key *ecdsa.PrivateKey
	jkt string // RFC 7638 thumbprint, base64url
	jwk string // the public JWK, as proofs carry it
}

// NewDPoPKey generates a DPoP key.
func NewDPoPKey() (*DPoPKey, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	return dpopKey(k)
}

func dpopKey(k *ecdsa.PrivateKey) (*DPoPKey, error) {
	pub, err := k.PublicKey.Bytes() // 0x04 || X || Y
	if err != nil || len(pub) != 65 {
		return nil, errors.New("federation: a DPoP key must be on P-256")
	}
	x := base64.RawURLEncoding.EncodeToString(pub[1:33])
	y := base64.RawURLEncoding.EncodeToString(pub[33:])
	jwk := `{"crv":"P-256","kty":"EC","x":"` + x + `","y":"` + y + `"}` // RFC 7638's member order
	sum := sha256.Sum256([]byte(jwk))
	return &DPoPKey{key: k, jkt: base64.RawURLEncoding.EncodeToString(sum[:]), jwk: jwk}, nil
}

// MarshalBinary is the private key as PKCS#8 DER: a secret, to be stored
// only sealed (a session store's encryption), for [ParseDPoPKey].
func (k *DPoPKey) MarshalBinary() ([]byte, error) { return x509.MarshalPKCS8PrivateKey(k.key) }

// ParseDPoPKey reads a key [DPoPKey.MarshalBinary] wrote.
func ParseDPoPKey(der []byte) (*DPoPKey, error) {
	raw, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("federation: a DPoP key: %w", err)
	}
	k, ok := raw.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("federation: a DPoP key must be ECDSA P-256, not %T", raw)
	}
	return dpopKey(k)
}

// Thumbprint is the key's RFC 7638 thumbprint: a bound token's cnf.jkt.
func (k *DPoPKey) Thumbprint() string { return k.jkt }

// String is [dpop key] and the thumbprint.
func (k DPoPKey) String() string { return "[dpop key " + k.jkt + "]" }

// GoString is String.
func (k DPoPKey) GoString() string { return k.String() }

// Format prints String for every verb.
func (k DPoPKey) Format(f fmt.State, _ rune) { fmt.Fprint(f, k.String()) }

// LogValue logs the thumbprint only.
func (k DPoPKey) LogValue() slog.Value { return slog.StringValue(k.String()) }

// Proof is a DPoP proof for a request (§4.2): method and uri (its query
// and fragment left out), the hash of accessToken when one is sent, and
// nonce when the server gave one.
func (k *DPoPKey) Proof(method, uri string, accessToken Secret, nonce string) (string, error) {
	u, err := url.Parse(uri)
	if err != nil {
		return "", err
	}
	u.RawQuery, u.Fragment, u.RawFragment = "", "", ""
	c := struct {
		JTI   string `json:"jti"`
		HTM   string `json:"htm"`
		HTU   string `json:"htu"`
		IAT   int64  `json:"iat"`
		ATH   string `json:"ath,omitempty"`
		Nonce string `json:"nonce,omitempty"`
	}{JTI: randid.New(), HTM: method, HTU: u.String(), IAT: time.Now().Unix(), Nonce: nonce}
	if accessToken != "" {
		sum := sha256.Sum256([]byte(accessToken.Reveal()))
		c.ATH = base64.RawURLEncoding.EncodeToString(sum[:])
	}
	payload, _ := json.Marshal(c)
	input := base64.RawURLEncoding.EncodeToString([]byte(`{"typ":"dpop+jwt","alg":"ES256","jwk":`+k.jwk+`}`)) + "." +
		base64.RawURLEncoding.EncodeToString(payload)
	digest := sha256.Sum256([]byte(input))
	r, s, err := ecdsa.Sign(rand.Reader, k.key, digest[:])
	if err != nil {
		return "", err
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return input + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}

// dpopNonce is the last DPoP-Nonce the provider's authorization server
// sent ("" before any).
func (p *Provider) dpopNonce() string {
	if n := p.nonce.Load(); n != nil {
		return *n
	}
	return ""
}

// keepDPoPNonce keeps a DPoP-Nonce header (printable, at most 256 bytes)
// and reports whether it is new.
func (p *Provider) keepDPoPNonce(h http.Header) bool {
	n := h.Get("DPoP-Nonce")
	if n == "" || len(n) > 256 || strings.ContainsFunc(n, func(r rune) bool { return r <= ' ' || r > '~' }) {
		return false
	}
	old := p.nonce.Swap(&n)
	return old == nil || *old != n
}

// resourceRequest sends a request with accessToken to a resource server
// (userinfo): through client, as Tokens.Client sends it (Bearer, or with
// key DPoP and a proof, retried once with the server's nonce), or in a
// form body with userinfoTokenInBody.
func (p *Provider) resourceRequest(ctx context.Context, client *http.Client, method, uri string, accessToken Secret,
	key *DPoPKey) (*http.Response, error) {
	if key == nil && p.cfg.UserinfoTokenInBody {
		// RFC 6750 §2.2, for a provider that takes the token only there.
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, uri,
			strings.NewReader(url.Values{"access_token": {accessToken.Reveal()}}.Encode()))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Accept", "application/json")
		return client.Do(req)
	}
	req, err := http.NewRequestWithContext(ctx, method, uri, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	c := *client
	c.Transport = &tokenTransport{base: client.Transport, t: Tokens{AccessToken: accessToken, DPoP: key}}
	c.CheckRedirect = sameOriginRedirects(http.ErrUseLastResponse)
	return c.Do(req)
}

// Client is an http.Client whose requests carry t's access token: as
// "Authorization: Bearer", or for DPoP-bound tokens as "Authorization:
// DPoP" with a fresh proof of each request, retried once with the nonce
// an API asks for (use_dpop_nonce) when the request can be replayed (no
// body, or one with GetBody). It follows redirects on the request's own
// origin only: the token is never sent to another. base is the transport
// (nil: the default). Refresh t as it nears Expiry (Provider.Refresher)
// and make a new Client.
func (t Tokens) Client(base http.RoundTripper) *http.Client {
	return &http.Client{Transport: &tokenTransport{base: base, t: t}, CheckRedirect: sameOriginRedirects(http.ErrUseLastResponse)}
}

// tokenTransport adds t's access token (and a DPoP proof) to each request.
type tokenTransport struct {
	base http.RoundTripper // nil: http.DefaultTransport
	t    Tokens
}

func (tr *tokenTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	base := tr.base
	if base == nil {
		base = http.DefaultTransport
	}
	nonce := ""
	for attempt := 0; ; attempt++ {
		r := req.Clone(req.Context())
		if attempt > 0 && req.GetBody != nil {
			body, err := req.GetBody()
			if err != nil {
				return nil, err
			}
			r.Body = body
		}
		if tr.t.DPoP == nil {
			r.Header.Set("Authorization", "Bearer "+tr.t.AccessToken.Reveal())
			return base.RoundTrip(r)
		}
		proof, err := tr.t.DPoP.Proof(r.Method, r.URL.String(), tr.t.AccessToken, nonce)
		if err != nil {
			return nil, err
		}
		r.Header.Set("Authorization", "DPoP "+tr.t.AccessToken.Reveal())
		r.Header.Set("DPoP", proof)
		resp, err := base.RoundTrip(r)
		replayable := req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
		if err != nil || attempt > 0 || !replayable || resp.StatusCode != http.StatusUnauthorized ||
			!strings.Contains(resp.Header.Get("WWW-Authenticate"), "use_dpop_nonce") || resp.Header.Get("DPoP-Nonce") == "" {
			return resp, err
		}
		nonce = resp.Header.Get("DPoP-Nonce")
		resp.Body.Close()
	}
}
