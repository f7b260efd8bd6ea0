package federation

import (
	"context"
	"net/http"
	"slices"
	"sync"
)

// ClientDiscovery is the document served at GET {mount}/discovery: what a
// CLI or native app needs to sign in with each provider, and nothing
// secret.
type ClientDiscovery struct {
	Providers []ClientProvider `json:"providers"` // one per provider, sorted by key
}

// ClientProvider is one provider in [ClientDiscovery].
type ClientProvider struct {
	Key    string `json:"key"`    // "oidc:<name>"
	Issuer string `json:"issuer"` // the discovered issuer
	// ClientID is the public client's ID (ProviderConfig.PublicClientID, or
	// ClientID of a public provider); empty when there is none, and a CLI
	// then cannot use the provider.
	ClientID                    string   `json:"clientId,omitempty"`
	AuthorizationEndpoint       string   `json:"authorizationEndpoint,omitempty"`       // for the loopback flow
	TokenEndpoint               string   `json:"tokenEndpoint,omitempty"`               // for both flows
	DeviceAuthorizationEndpoint string   `json:"deviceAuthorizationEndpoint,omitempty"` // for the device flow; empty without one
	Scopes                      []string `json:"scopes"`                                // what to request
	// Error says why the endpoints are missing: the provider's metadata
	// could not be fetched. The other providers are listed regardless.
	Error string `json:"error,omitempty"`
}

// publicClientID is the client ID a public client (CLI) uses, if any.
func (p *Provider) publicClientID() string {
	if p.cfg.PublicClientID != "" {
		return p.cfg.PublicClientID
	}
	if p.cfg.TokenEndpointAuthMethod == authNone {
		return p.cfg.ClientID
	}
	return ""
}

// ClientDiscovery resolves every provider (concurrently) and returns the
// public facts about each, sorted by key.
func (r *Registry) ClientDiscovery(ctx context.Context) ClientDiscovery {
	keys := r.Keys()
	out := ClientDiscovery{Providers: make([]ClientProvider, len(keys))}
	var wg sync.WaitGroup
	for i, key := range keys {
		p, _ := r.Lookup(key)
		wg.Go(func() {
			cp := ClientProvider{Key: key, Issuer: p.src.Issuer().String(), ClientID: p.publicClientID(),
				Scopes: slices.Clone(p.scopes)}
			st, err := p.resolve(ctx)
			if err != nil {
				cp.Error = "the provider's metadata could not be fetched"
			} else {
				cp.Issuer = st.md.Issuer
				cp.AuthorizationEndpoint = st.md.AuthorizationEndpoint
				cp.TokenEndpoint = st.md.TokenEndpoint
				cp.DeviceAuthorizationEndpoint = st.md.DeviceAuthorizationEndpoint
			}
			out.Providers[i] = cp
		})
	}
	wg.Wait()
	return out
}

// serveDiscovery answers GET {mount}/discovery.
func (h *Handler) serveDiscovery(w http.ResponseWriter, r *http.Request) {
	if !getOnly(w, r, writeJSONError) {
		return
	}
	writeJSON(w, http.StatusOK, h.cfg.Registry.ClientDiscovery(r.Context()))
}
