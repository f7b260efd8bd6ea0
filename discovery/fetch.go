package discovery

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

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

// FetchInfo describes one fetch of a discovery document or a JWKS, for
// metrics ([CacheConfig.OnFetch], [KeySetConfig.OnFetch]). It holds no
// document content.
type FetchInfo struct {
	URL      string        // what was fetched
	Status   int           // the HTTP status; 0 when no answer came
	Bytes    int           // the body's size
	Duration time.Duration // from the request to the decoded body
	Err      error         // nil when the fetch and its validation succeeded
	// Stale: the fetch failed and the expired document or keys are still
	// being served (stale-if-error).
	Stale bool
	// UnknownKey: a JWKS fetched because a token named a key ID not in
	// the cached set.
	UnknownKey bool
}

// getJSON fetches url and decodes its JSON object body into v, recording
// status, size and duration in info.
func getJSON(ctx context.Context, c *http.Client, url string, v any, info *FetchInfo) (err error) {
	began := time.Now()
	info.URL = url
	defer func() { info.Duration, info.Err = time.Since(began), err }()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return &MetadataError{URL: url, Err: fmt.Errorf("%w: %v", ErrInvalidEndpoint, err)}
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return &MetadataError{URL: url, Err: err}
	}
	info.Status = resp.StatusCode
	body, err := httpx.ReadAll(resp)
	info.Bytes = len(body)
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
	return fetch(ctx, fetchClient(c), src, &FetchInfo{})
}

func fetch(ctx context.Context, c *http.Client, src *Source, info *FetchInfo) (*Metadata, error) {
	var md Metadata
	if err := getJSON(ctx, c, src.discoveryURL, &md, info); err != nil {
		return nil, err
	}
	if err := md.validate(src.discoveryURL, src.issuer, src.tenants); err != nil {
		info.Err = err
		return nil, err
	}
	return md.withOverrides(src.endpoints), nil
}
