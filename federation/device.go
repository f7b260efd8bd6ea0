package federation

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/oidcfed/oidcfed/internal/urlcheck"
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
	UserCode                string        // what the user types at VerificationURI
	VerificationURI         string        // where the user goes
	VerificationURIComplete string        // "" when the provider sends none
	ExpiresAt               time.Time     // when the codes expire, on the registry's clock
	Interval                time.Duration // at least 5 s unless the provider says otherwise

	deviceCode Secret
	dpop       *DPoPKey // with provider dpop: the key the tokens are bound to
}

// String prints what to show the user, never the device code.
func (d DeviceAuthorization) String() string {
	return fmt.Sprintf("federation.DeviceAuthorization{UserCode:%s VerificationURI:%s ExpiresAt:%s Interval:%s}",
		d.UserCode, d.VerificationURI, d.ExpiresAt.Format(time.RFC3339), d.Interval)
}

// GoString is String.
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
		return nil, newError(CodeUnsupported, "the identity provider does not offer the device flow",
			fmt.Errorf("%w (%s)", ErrNoDeviceEndpoint, p.key))
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
	if err := p.postForm(ctx, st, st.viaTLS(st.md.DeviceAuthorizationEndpoint, st.md.MTLSEndpointAliases.DeviceAuthorizationEndpoint), url.Values{"scope": {strings.Join(p.scopes, " ")}}, &body, "the device sign-in"); err != nil {
		return nil, err
	}
	bad := func(what string) error {
		return newError(CodeProviderUnavailable, "the identity provider sent an unusable device authorization",
			errors.New(what))
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
	d := &DeviceAuthorization{UserCode: body.UserCode, VerificationURI: body.VerificationURI,
		VerificationURIComplete: body.VerificationURIComplete, ExpiresAt: start.Add(time.Duration(body.ExpiresIn) * time.Second),
		Interval: interval, deviceCode: Secret(body.DeviceCode)}
	if p.cfg.DPoP {
		// Each poll proves the key; the tokens come bound to it.
		if d.dpop, err = NewDPoPKey(); err != nil {
			return nil, newError(CodeServerError, "the device sign-in could not be started", err)
		}
	}
	return d, nil
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
		if !p.reg.opts.now().Before(d.ExpiresAt) {
			return nil, newError(CodeExpiredToken, "the device code expired before the user approved it", nil)
		}
		tr, start, err := p.tokenRequestDPoP(ctx, st,
			url.Values{"grant_type": {deviceGrantType}, "device_code": {d.deviceCode.Reveal()}},
			"the device sign-in", d.dpop)
		p.observePoll(ctx, err)
		var fe *Error
		switch {
		case err == nil:
			vt, err := p.verifyTokenResponse(ctx, st, tr, true)
			if err != nil {
				return nil, err
			}
			return p.result(ctx, st, tr, vt, start)
		case !errors.As(err, &fe):
			return nil, err
		case fe.Code == codeAuthorizationPending:
		case fe.Code == codeSlowDown:
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

// observePoll reports one device poll's answer to the observer.
func (p *Provider) observePoll(ctx context.Context, err error) {
	obs := p.reg.opts.observer
	if obs == nil || obs.DevicePoll == nil {
		return
	}
	e := DevicePollEvent{Provider: p.key, Result: PollDone}
	switch code := codeOf(err); code {
	case "":
	case codeAuthorizationPending:
		e.Result = PollPending
	case codeSlowDown:
		e.Result = PollSlowDown
	default:
		e.Result, e.Code = PollFailed, code
	}
	obs.DevicePoll(ctx, e)
}
