package federation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/oidcfed/oidcfed/internal/httpx"
	"github.com/oidcfed/oidcfed/internal/urlcheck"
)

// Device authorization grant (RFC 8628) codes beyond the sign-in ones.
const (
	// CodeExpiredToken: the device code expired before the user decided.
	CodeExpiredToken = "expired_token"
)

// deviceGrantType is RFC 8628 §3.4's grant_type.
const deviceGrantType = "urn:ietf:params:oauth:grant-type:device_code"

// ErrNoDeviceEndpoint: the provider advertises no
// device_authorization_endpoint.
var ErrNoDeviceEndpoint = errors.New("federation: the provider has no device_authorization_endpoint")

// DeviceAuthorization is a started device authorization (RFC 8628 §3.2).
// Show the user UserCode and VerificationURI (or VerificationURIComplete,
// which carries the code), then call [Provider.PollDevice]. The device
// code itself stays inside and is never printed.
type DeviceAuthorization struct {
	UserCode                string
	VerificationURI         string
	VerificationURIComplete string // "" when the provider sends none
	ExpiresAt               time.Time
	Interval                time.Duration // at least 5 s unless the provider says otherwise

	deviceCode Secret
}

func (d DeviceAuthorization) String() string {
	return fmt.Sprintf("federation.DeviceAuthorization{UserCode:%s VerificationURI:%s ExpiresAt:%s Interval:%s}",
		d.UserCode, d.VerificationURI, d.ExpiresAt.Format(time.RFC3339), d.Interval)
}

func (d DeviceAuthorization) GoString() string { return d.String() }

// StartDevice asks the provider for a device and user code (RFC 8628
// §3.1) for the provider's scopes, authenticating the client as for the
// token endpoint (a CLI is normally a public client: tokenEndpointAuthMethod
// "none").
func (p *Provider) StartDevice(ctx context.Context) (*DeviceAuthorization, error) {
	st, err := p.signIn(ctx)
	if err != nil {
		return nil, err
	}
	if st.md.DeviceAuthorizationEndpoint == "" {
		return nil, fmt.Errorf("%w (%s)", ErrNoDeviceEndpoint, p.key)
	}
	start := p.reg.opts.now()
	var body struct {
		DeviceCode              string `json:"device_code"`
		UserCode                string `json:"user_code"`
		VerificationURI         string `json:"verification_uri"`
		VerificationURIComplete string `json:"verification_uri_complete"`
		ExpiresIn               int64  `json:"expires_in"`
		Interval                int64  `json:"interval"`
	}
	if err := p.post(ctx, st, st.md.DeviceAuthorizationEndpoint, url.Values{"scope": {strings.Join(p.scopes, " ")}}, &body); err != nil {
		return nil, err
	}
	bad := func(what string) error {
		return newError(CodeProviderUnavailable, "the identity provider sent an unusable device authorization", errors.New(what))
	}
	switch {
	case body.DeviceCode == "" || body.UserCode == "":
		return nil, bad("device_code or user_code missing")
	case body.ExpiresIn <= 0:
		return nil, bad("expires_in missing or not positive")
	}
	if _, err := urlcheck.Endpoint(body.VerificationURI); err != nil {
		return nil, bad(fmt.Sprintf("verification_uri: %v", err))
	}
	if body.VerificationURIComplete != "" {
		if _, err := urlcheck.Endpoint(body.VerificationURIComplete); err != nil {
			body.VerificationURIComplete = ""
		}
	}
	interval := time.Duration(body.Interval) * time.Second
	if interval <= 0 {
		interval = 5 * time.Second // §3.2's default
	}
	return &DeviceAuthorization{UserCode: body.UserCode, VerificationURI: body.VerificationURI,
		VerificationURIComplete: body.VerificationURIComplete, ExpiresAt: start.Add(time.Duration(body.ExpiresIn) * time.Second),
		Interval: interval, deviceCode: Secret(body.DeviceCode)}, nil
}

// PollDevice polls the token endpoint (RFC 8628 §3.4–3.5) until the user
// approves or denies, the code expires or ctx ends. It waits Interval
// between requests on the registry's clock and sleep (WithClock,
// WithSleep), adds 5 s on slow_down, and keeps polling on
// authorization_pending. The ID token is verified (signature, iss, aud,
// exp, iat, azp, at_hash; a device flow has no nonce) and mapped into the
// Result as a sign-in is. Errors: code access_denied when the user
// denied, expired_token when the code expired, ctx.Err() (wrapped) when
// ctx ended.
func (p *Provider) PollDevice(ctx context.Context, d *DeviceAuthorization) (*Result, error) {
	st, err := p.signIn(ctx)
	if err != nil {
		return nil, err
	}
	interval := d.Interval
	for {
		if err := p.reg.sleep(ctx, interval); err != nil {
			return nil, fmt.Errorf("federation: waiting for the device authorization: %w", err)
		}
		start := p.reg.opts.now()
		if !start.Before(d.ExpiresAt) {
			return nil, newError(CodeExpiredToken, "the device code expired before the user approved it", nil)
		}
		var body tokenBody
		err := p.post(ctx, st, st.md.TokenEndpoint, url.Values{"grant_type": {deviceGrantType}, "device_code": {d.deviceCode.Reveal()}}, &body)
		var fe *Error
		switch {
		case err == nil:
			tok := body.token()
			vt, rawID, err := p.verifyTokenResponse(ctx, st, tok, true)
			if err != nil {
				return nil, err
			}
			return p.result(httpx.WithClient(ctx, p.reg.opts.client), st, tok, vt, rawID, start)
		case !errors.As(err, &fe):
			return nil, err
		case fe.Code == "authorization_pending":
		case fe.Code == "slow_down":
			interval += 5 * time.Second
		case fe.Code == CodeAccessDenied:
			return nil, newError(CodeAccessDenied, "the user denied the device sign-in", nil)
		case fe.Code == CodeExpiredToken:
			return nil, newError(CodeExpiredToken, "the device code expired before the user approved it", nil)
		default:
			return nil, err
		}
	}
}

// expiry is when a token with expires_in seconds, requested at start,
// expires; zero when the provider gave no (positive) lifetime.
func expiry(start time.Time, expiresIn int64) time.Time {
	if expiresIn <= 0 {
		return time.Time{}
	}
	return start.Add(time.Duration(expiresIn) * time.Second)
}

// tokenBody is a token endpoint response (RFC 6749 §5.1).
type tokenBody struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	RefreshToken string `json:"refresh_token"`
	ExpiresIn    int64  `json:"expires_in"`
	IDToken      string `json:"id_token"`
	Scope        string `json:"scope"`
}

func (b tokenBody) token() *oauth2.Token {
	t := &oauth2.Token{AccessToken: b.AccessToken, TokenType: b.TokenType, RefreshToken: b.RefreshToken, ExpiresIn: b.ExpiresIn}
	return t.WithExtra(map[string]any{"id_token": b.IDToken, "scope": b.Scope})
}

// post sends a token-endpoint-style request (form, client authentication
// as for the token endpoint) and decodes a 200 JSON answer into out. An
// OAuth error answer becomes an *Error with the provider's code (when it
// is a plain one).
func (p *Provider) post(ctx context.Context, st *resolved, endpoint string, form url.Values, out any) error {
	form.Set("client_id", p.cfg.ClientID)
	secret := p.cfg.ClientSecret.Reveal()
	basic := st.endpoint.AuthStyle == oauth2.AuthStyleInHeader && secret != ""
	if !basic && secret != "" {
		form.Set("client_secret", secret)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return newError(CodeProviderUnavailable, "the identity provider is misconfigured", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if basic {
		req.SetBasicAuth(url.QueryEscape(p.cfg.ClientID), url.QueryEscape(secret))
	}
	resp, err := p.reg.exchange.Do(req)
	if err != nil {
		return tokenEndpointError(err, "", "the identity provider could not be reached")
	}
	raw, err := httpx.ReadAll(resp)
	if err != nil {
		return newError(CodeProviderUnavailable, "the identity provider's answer could not be read", err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error string `json:"error"`
		}
		json.Unmarshal(raw, &e)
		if e.Error == "" {
			return newError(CodeProviderUnavailable, "the identity provider answered with an error", fmt.Errorf("HTTP %d", resp.StatusCode))
		}
		code := safeCode(e.Error)
		return newError(code, "the identity provider refused the request", fmt.Errorf("%s: HTTP %d %s", endpoint, resp.StatusCode, code))
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return newError(CodeProviderUnavailable, "the identity provider's answer is not JSON", err)
	}
	return nil
}
