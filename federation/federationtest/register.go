package federationtest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// Dynamic client registration (RFC 7591; OpenID Connect Dynamic Client
// Registration 1.0 §3): with Options.Registration, POST /register takes
// client metadata as JSON and answers 201 with a new client. A jwks_uri is
// fetched once, at registration, for the client's Keys (private_key_jwt
// assertions, encryption).

// registrationRequest is the metadata the endpoint reads.
type registrationRequest struct {
	RedirectURIs         []string `json:"redirect_uris"`
	TokenAuthMethod      string   `json:"token_endpoint_auth_method"`
	JWKSURI              string   `json:"jwks_uri"`
	BackchannelLogoutURI string   `json:"backchannel_logout_uri"`
	IDTokenEncAlg        string   `json:"id_token_encrypted_response_alg"`
	IDTokenEncEnc        string   `json:"id_token_encrypted_response_enc"`
	UserinfoEncAlg       string   `json:"userinfo_encrypted_response_alg"`
	UserinfoEncEnc       string   `json:"userinfo_encrypted_response_enc"`
	RequestURIs          []string `json:"request_uris"`
	RequestObjectAlg     string   `json:"request_object_signing_alg"`
}

func (p *Provider) register(w http.ResponseWriter, r *http.Request) {
	refuse := func(status int, code, why string) {
		writeJSON(w, status, map[string]string{"error": code, "error_description": why})
	}
	if t := p.opts.RegistrationToken; t != "" && r.Header.Get("Authorization") != "Bearer "+t {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		refuse(http.StatusUnauthorized, "invalid_token", "a registration needs the initial access token")
		return
	}
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		refuse(http.StatusBadRequest, "invalid_request", "the client metadata must be JSON")
		return
	}
	raw, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	var meta map[string]any
	var req registrationRequest
	if err != nil || json.Unmarshal(raw, &meta) != nil || json.Unmarshal(raw, &req) != nil {
		refuse(http.StatusBadRequest, "invalid_client_metadata", "the client metadata is not a JSON object")
		return
	}
	if len(req.RedirectURIs) == 0 {
		refuse(http.StatusBadRequest, "invalid_redirect_uri", "redirect_uris is required")
		return
	}
	for _, u := range req.RedirectURIs {
		if pu, err := url.Parse(u); err != nil || !pu.IsAbs() || pu.Fragment != "" {
			refuse(http.StatusBadRequest, "invalid_redirect_uri", "a redirect URI is not an absolute URL")
			return
		}
	}
	if req.TokenAuthMethod == "" {
		req.TokenAuthMethod = "client_secret_basic" // RFC 7591 §2
	}
	if !slices.Contains(p.opts.TokenAuthMethods, req.TokenAuthMethod) {
		refuse(http.StatusBadRequest, "invalid_client_metadata", "token_endpoint_auth_method is not supported")
		return
	}
	c := Client{ID: "dyn-" + randomString()[:12], RedirectURIs: req.RedirectURIs,
		BackchannelLogoutURI: req.BackchannelLogoutURI}
	switch req.TokenAuthMethod {
	case "client_secret_basic", "client_secret_post", "client_secret_jwt":
		c.Secret = randomString() + randomString()
	}
	if req.JWKSURI != "" {
		keys, err := fetchKeys(req.JWKSURI)
		if err != nil {
			refuse(http.StatusBadRequest, "invalid_client_metadata", "jwks_uri: "+err.Error())
			return
		}
		c.Keys = keys
	}
	if req.IDTokenEncAlg != "" {
		c.IDTokenEncryption = &Encryption{Alg: req.IDTokenEncAlg, Enc: req.IDTokenEncEnc}
	}
	if req.UserinfoEncAlg != "" {
		c.UserinfoEncryption = &Encryption{Alg: req.UserinfoEncAlg, Enc: req.UserinfoEncEnc}
	}
	c.RequestURIs, c.RequestObjectAlg = req.RequestURIs, req.RequestObjectAlg
	now := p.now()
	meta["client_id"], meta["client_id_issued_at"] = c.ID, now.Unix()
	meta["token_endpoint_auth_method"] = req.TokenAuthMethod
	meta["registration_access_token"] = randomString()
	meta["registration_client_uri"] = p.issuer + "/register/" + c.ID
	if c.Secret != "" {
		meta["client_secret"] = c.Secret
		meta["client_secret_expires_at"] = 0
		if d := p.opts.RegistrationSecretLifetime; d > 0 {
			c.SecretExpires = now.Add(d)
			meta["client_secret_expires_at"] = c.SecretExpires.Unix()
		}
	}
	p.mu.Lock()
	p.clients[c.ID] = c
	p.registered++
	edit := p.bad.Registration
	p.mu.Unlock()
	if edit != nil {
		edit(meta)
	}
	writeJSON(w, http.StatusCreated, meta)
}

// fetchKeys reads a client's JWKS.
func fetchKeys(uri string) ([]jose.JSONWebKey, error) {
	body, err := fetchClientDocument(uri)
	if err != nil {
		return nil, err
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, err
	}
	return set.Keys, nil
}

// fetchClientDocument GETs a document the client serves (its JWKS, a
// request object): 200 only, 64 KiB at most, 5 s.
func fetchClientDocument(uri string) ([]byte, error) {
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Get(uri)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	return io.ReadAll(io.LimitReader(resp.Body, 64<<10))
}

// Registrations is how many clients POST /register has registered.
func (p *Provider) Registrations() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.registered
}

// RemoveClient forgets a client, as a provider does when an admin deletes
// it: its credentials are then invalid_client.
func (p *Provider) RemoveClient(id string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.clients, id)
}

// ClientIDs are the registered clients' IDs, in no order.
func (p *Provider) ClientIDs() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	ids := make([]string, 0, len(p.clients))
	for id := range p.clients {
		ids = append(ids, id)
	}
	return ids
}
