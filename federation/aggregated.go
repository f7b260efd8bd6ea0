package federation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"

	"github.com/oidcfed/oidcfed/discovery"
	"github.com/oidcfed/oidcfed/internal/urlcheck"
)

// Aggregated claims (OpenID Connect Core 1.0 §5.6.2): claims another
// issuer asserts, carried inside the ID token or userinfo as a signed JWT
// under _claim_sources, and named by _claim_names. They are used only from
// the claim issuers a provider lists (aggregatedClaims), verified with
// their keys; any other source is ignored. Distributed claims (an endpoint
// and an access token instead of the JWT) are fetched from a listed
// issuer's origin only, and verified the same way.

// ClaimIssuer is an issuer whose aggregated claims a provider passes on.
type ClaimIssuer struct {
	Issuer  string `json:"issuer"`  // the JWT's iss, exactly
	JWKSURI string `json:"jwksUri"` // its signing keys
}

// ErrAggregatedClaims: an aggregated claims JWT from a listed issuer does
// not verify; its claims are left out.
var ErrAggregatedClaims = errors.New("federation: aggregated claims could not be verified")

// maxClaimSources bounds the sources read from one token.
const maxClaimSources = 8

// claimKeySets are the key sets of a provider's claim issuers, made once.
type claimKeySets struct {
	mu   sync.Mutex
	sets map[string]*discovery.KeySet // by JWKS URI
}

// aggregate adds to c the claims of its _claim_sources whose JWT a listed
// claim issuer signed, for the names _claim_names gives that source. A
// claim c already has is not overwritten, nor are iss, sub, aud. A source
// that does not verify is logged and left out.
func (p *Provider) aggregate(ctx context.Context, c map[string]any) map[string]any {
	names, _ := c["_claim_names"].(map[string]any)
	sources, _ := c["_claim_sources"].(map[string]any)
	if len(p.cfg.AggregatedClaims) == 0 || len(names) == 0 || len(sources) == 0 {
		return c
	}
	out := maps.Clone(c)
	for i, src := range slices.Sorted(maps.Keys(sources)) {
		if i == maxClaimSources {
			break
		}
		s, _ := sources[src].(map[string]any)
		raw, _ := s["JWT"].(string)
		var err error
		if endpoint, _ := s["endpoint"].(string); raw == "" && endpoint != "" {
			token, _ := s["access_token"].(string)
			raw, err = p.fetchDistributed(ctx, endpoint, token)
		}
		if raw == "" && err == nil {
			continue
		}
		var claims map[string]any
		if err == nil {
			claims, err = p.verifyAggregated(ctx, raw)
		}
		if err != nil {
			p.reg.opts.logger.WarnContext(ctx, "federation: aggregated claims left out", "provider", p.key,
				"source", src, "error", err)
			continue
		}
		for name, from := range names {
			switch name {
			case "iss", "sub", "aud", "_claim_names", "_claim_sources":
				continue
			}
			if from != src {
				continue
			}
			if _, have := out[name]; have {
				continue
			}
			if v, ok := claims[name]; ok {
				out[name] = v
			}
		}
	}
	return out
}

// maxDistributedClaims bounds a distributed claims answer.
const maxDistributedClaims = 64 << 10

// fetchDistributed gets a distributed claims JWT (§5.6.2) from endpoint,
// which must be on the origin of a listed claim issuer (the provider's
// token names it; the server never fetches elsewhere), with token as its
// bearer token: 64 KiB at most, 5 s, no redirect to another origin.
func (p *Provider) fetchDistributed(ctx context.Context, endpoint, token string) (string, error) {
	u, err := urlcheck.Endpoint(endpoint)
	if err != nil {
		return "", fmt.Errorf("%w: endpoint: %v", ErrAggregatedClaims, err)
	}
	origin := u.Scheme + "://" + u.Host
	if !slices.ContainsFunc(p.cfg.AggregatedClaims, func(ci ClaimIssuer) bool {
		iu, err := url.Parse(ci.Issuer)
		return err == nil && iu.Scheme+"://"+iu.Host == origin
	}) {
		return "", fmt.Errorf("%w: endpoint %s is not on a listed claim issuer's origin", ErrAggregatedClaims, origin)
	}
	ctx, cancel := context.WithTimeout(ctx, webFingerTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint, nil)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrAggregatedClaims, err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	client := *p.reg.opts.client
	client.CheckRedirect = sameOriginRedirects(fmt.Errorf("%w: redirected to another origin", ErrAggregatedClaims))
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrAggregatedClaims, redactURLError(err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxDistributedClaims+1))
	switch {
	case err != nil:
		return "", fmt.Errorf("%w: %v", ErrAggregatedClaims, err)
	case resp.StatusCode != http.StatusOK:
		return "", fmt.Errorf("%w: the endpoint answered HTTP %d", ErrAggregatedClaims, resp.StatusCode)
	case len(body) > maxDistributedClaims:
		return "", fmt.Errorf("%w: the endpoint answered over %d bytes", ErrAggregatedClaims, maxDistributedClaims)
	}
	return strings.TrimSpace(string(body)), nil
}

// verifyAggregated verifies raw with the listed claim issuer its iss
// names and returns its claims.
func (p *Provider) verifyAggregated(ctx context.Context, raw string) (map[string]any, error) {
	_, payload, _, ok := splitJWS(raw)
	var unverified struct {
		Iss string `json:"iss"`
	}
	if !ok || decodeSegment(payload, &unverified) != nil {
		return nil, fmt.Errorf("%w: not a JWT", ErrAggregatedClaims)
	}
	i := slices.IndexFunc(p.cfg.AggregatedClaims, func(ci ClaimIssuer) bool { return ci.Issuer == unverified.Iss })
	if i < 0 {
		return nil, fmt.Errorf("%w: iss %q is not a listed claim issuer", ErrAggregatedClaims, unverified.Iss)
	}
	ci := p.cfg.AggregatedClaims[i]
	ks, err := p.claimKeySet(ci.JWKSURI)
	if err != nil {
		return nil, err
	}
	var body map[string]any
	payloadBytes, err := ks.VerifySignature(ctx, raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrAggregatedClaims, err)
	}
	if err := json.Unmarshal(payloadBytes, &body); err != nil || body["iss"] != ci.Issuer {
		return nil, fmt.Errorf("%w: iss", ErrAggregatedClaims)
	}
	return body, nil
}

// claimKeySet is the key set of a claim issuer's JWKS URI.
func (p *Provider) claimKeySet(uri string) (*discovery.KeySet, error) {
	p.claimKeys.mu.Lock()
	defer p.claimKeys.mu.Unlock()
	if ks := p.claimKeys.sets[uri]; ks != nil {
		return ks, nil
	}
	ks, err := discovery.NewKeySet(discovery.KeySetConfig{URI: uri, Client: p.reg.opts.client, Now: p.reg.opts.now,
		Logger: p.reg.opts.logger, Algorithms: []string{"RS256", "PS256", "ES256", "EdDSA"}})
	if err != nil {
		return nil, err
	}
	if p.claimKeys.sets == nil {
		p.claimKeys.sets = map[string]*discovery.KeySet{}
	}
	p.claimKeys.sets[uri] = ks
	return ks, nil
}
