package discovery

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/oidcfed/oidcfed/internal/httpx"
)

// fetchClient returns a copy of c (capped) that refuses redirects to another
// origin: a discovery document or JWKS served from elsewhere than the URL we
// were configured with is not trusted.
func fetchClient(c *http.Client) *http.Client {
	cp := *httpx.Capped(c, 0)
	cp.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		first := via[0].URL
		if req.URL.Scheme != first.Scheme || req.URL.Host != first.Host {
			return fmt.Errorf("%w: %s to %s://%s", ErrRedirect, first.Redacted(), req.URL.Scheme, req.URL.Host)
		}
		if len(via) >= 5 {
			return fmt.Errorf("%w: too many redirects", ErrRedirect)
		}
		return nil
	}
	return &cp
}

// getJSON fetches url and decodes its JSON object body into v.
func getJSON(ctx context.Context, c *http.Client, url string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return &MetadataError{URL: url, Err: fmt.Errorf("%w: %v", ErrInvalidEndpoint, err)}
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return &MetadataError{URL: url, Err: err}
	}
	body, err := httpx.ReadAll(resp)
	if err != nil {
		return &MetadataError{URL: url, Err: err}
	}
	if resp.StatusCode != http.StatusOK {
		return &MetadataError{URL: url, Err: fmt.Errorf("%w %d", ErrHTTPStatus, resp.StatusCode)}
	}
	if err := json.Unmarshal(body, v); err != nil {
		return &MetadataError{URL: url,
			Err: fmt.Errorf("%w (Content-Type %q)", ErrNotJSON, resp.Header.Get("Content-Type"))}
	}
	return nil
}

// Fetch retrieves and validates the metadata for src, with manual endpoints
// applied. c should come from the configured client; its responses are
// capped and cross-origin redirects are refused. Most callers want
// [Cache.Get] instead.
func Fetch(ctx context.Context, c *http.Client, src *Source) (*Metadata, error) {
	if src.static != nil {
		return src.static, nil
	}
	return fetch(ctx, fetchClient(c), src)
}

func fetch(ctx context.Context, c *http.Client, src *Source) (*Metadata, error) {
	var md Metadata
	if err := getJSON(ctx, c, src.discoveryURL, &md); err != nil {
		return nil, err
	}
	if err := md.validate(src.discoveryURL, src.issuer, src.tenants); err != nil {
		return nil, err
	}
	return md.withOverrides(src.endpoints), nil
}
