package federation_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oidcfed/oidcfed/discovery"
	"github.com/oidcfed/oidcfed/federation"
	"github.com/oidcfed/oidcfed/federation/federationtest"
	"github.com/oidcfed/oidcfed/internal/clock"
)

// deviceRig is a public CLI client of a federationtest provider, on a fake
// clock whose sleep advances the clock, records the wait and runs onSleep.
type deviceRig struct {
	op      *federationtest.Provider
	clock   *clock.Fake
	p       *federation.Provider
	mu      sync.Mutex
	sleeps  []time.Duration
	onSleep func(n int)
	bodies  bytes.Buffer // every response body the library read
}

func newDeviceRig(t *testing.T, opts federationtest.Options) *deviceRig {
	t.Helper()
	opts.TokenAuthMethods = []string{"none"}
	r := &deviceRig{op: federationtest.New(t, opts), clock: clock.NewFake(time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC))}
	r.op.SetClock(r.clock.Now)
	r.op.AddUser(alice)
	r.op.AddClient(federationtest.Client{ID: "cli"})
	reg, err := federation.NewRegistry(federation.Config{Providers: map[string]federation.ProviderConfig{
		"acme": {Issuer: r.op.Issuer(), ClientID: "cli", TokenEndpointAuthMethod: "none"},
	}}, federation.WithClock(r.clock.Now), federation.WithHTTPClient(&http.Client{Transport: r}),
		federation.WithSleep(func(ctx context.Context, d time.Duration) error {
			r.clock.Advance(d)
			r.mu.Lock()
			r.sleeps = append(r.sleeps, d)
			n, hook := len(r.sleeps), r.onSleep
			r.mu.Unlock()
			if hook != nil {
				hook(n)
			}
			return ctx.Err()
		}))
	if err != nil {
		t.Fatal(err)
	}
	r.p, _ = reg.Lookup("oidc:acme")
	return r
}

// RoundTrip keeps each response body.
func (r *deviceRig) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	r.mu.Lock()
	r.bodies.Write(b)
	r.mu.Unlock()
	resp.Body = io.NopCloser(bytes.NewReader(b))
	return resp, nil
}

func (r *deviceRig) waits() []time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]time.Duration(nil), r.sleeps...)
}

func TestDeviceFlow(t *testing.T) {
	r := newDeviceRig(t, federationtest.Options{})
	d, err := r.p.StartDevice(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^[B-Z]{4}-[B-Z]{4}$`).MatchString(d.UserCode) || d.VerificationURI != r.op.Issuer()+"/device" ||
		d.VerificationURIComplete != r.op.Issuer()+"/device?user_code="+d.UserCode || d.Interval != 5*time.Second ||
		!d.ExpiresAt.Equal(r.clock.Now().Add(10*time.Minute)) {
		t.Fatalf("device authorization %v", d)
	}
	// The device code is in what the provider sent, and in no printout.
	code := regexp.MustCompile(`"device_code":"([^"]+)"`).FindStringSubmatch(r.bodies.String())
	if code == nil {
		t.Fatal("no device_code seen")
	}
	if out := fmt.Sprintf("%v %+v %#v %s", d, d, *d, *d); strings.Contains(out, code[1]) {
		t.Fatalf("the device code is printed: %s", out)
	}
	r.onSleep = func(n int) {
		if n == 3 {
			if err := r.op.ApproveDevice(d.UserCode, "alice"); err != nil {
				t.Error(err)
			}
		}
	}
	res, err := r.p.PollDevice(context.Background(), d)
	if err != nil {
		t.Fatal(err)
	}
	if u := res.User; u.Subject != "alice" || u.Email != "alice@example.com" || !u.EmailVerified || u.Provider != "oidc:acme" || u.Issuer != r.op.Issuer() {
		t.Errorf("user %+v", u)
	}
	if res.Tokens.AccessToken == "" || res.Tokens.RefreshToken == "" || res.Tokens.IDToken == "" ||
		!res.Tokens.Expiry.Equal(r.clock.Now().Add(300*time.Second)) {
		t.Errorf("tokens %v", res.Tokens)
	}
	if w := r.waits(); fmt.Sprint(w) != "[5s 5s 5s]" {
		t.Errorf("waits %v, want three of the 5 s interval (two pending, then approved)", w)
	}
	// The approval page is the provider's own.
	if resp, err := http.Get(d.VerificationURIComplete); err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("verification page: %v %v", resp, err)
	}
}

// TestDeviceFlowSlowDown: polled faster than the provider's interval, the
// client gets slow_down and adds 5 s to every later wait (RFC 8628 §3.5).
func TestDeviceFlowSlowDown(t *testing.T) {
	r := newDeviceRig(t, federationtest.Options{})
	d, err := r.p.StartDevice(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	d.Interval = time.Second // faster than the provider's 5 s
	r.onSleep = func(n int) {
		if n == 4 {
			r.op.ApproveDevice(d.UserCode, "alice")
		}
	}
	if _, err := r.p.PollDevice(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	// 1 s: pending (first poll); 1 s: slow_down; 6 s: pending; 6 s: approved.
	if w := r.waits(); fmt.Sprint(w) != "[1s 1s 6s 6s]" {
		t.Errorf("waits %v, want [1s 1s 6s 6s]", w)
	}
}

func TestDeviceFlowFailures(t *testing.T) {
	tests := []struct {
		name  string
		opts  federationtest.Options
		setup func(r *deviceRig, d *federation.DeviceAuthorization)
		code  federation.Code
		cause error
	}{
		{name: "the user denies", setup: func(r *deviceRig, d *federation.DeviceAuthorization) {
			r.onSleep = func(n int) {
				if n == 2 {
					r.op.DenyDevice(d.UserCode)
				}
			}
		}, code: federation.CodeAccessDenied},
		{name: "the code expires, seen on our clock", opts: federationtest.Options{DeviceCodeLifetime: 12 * time.Second},
			code: federation.CodeExpiredToken},
		{name: "the code expires, as the provider says", opts: federationtest.Options{DeviceCodeLifetime: 12 * time.Second},
			setup: func(r *deviceRig, d *federation.DeviceAuthorization) {
				d.ExpiresAt = d.ExpiresAt.Add(time.Hour)
			},
			code: federation.CodeExpiredToken},
		{name: "an ID token for another audience", setup: func(r *deviceRig, d *federation.DeviceAuthorization) {
			r.op.Misbehave(federationtest.Misbehavior{IDTokenClaims: func(c map[string]any) { c["aud"] = "someone-else" }})
			r.op.ApproveDevice(d.UserCode, "alice")
		}, code: federation.CodeInvalidToken, cause: discovery.ErrTokenAudience},
		{name: "no ID token", setup: func(r *deviceRig, d *federation.DeviceAuthorization) {
			r.op.Misbehave(federationtest.Misbehavior{TokenResponse: func(b map[string]any) { delete(b, "id_token") }})
			r.op.ApproveDevice(d.UserCode, "alice")
		}, code: federation.CodeInvalidToken, cause: federation.ErrNoIDToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newDeviceRig(t, tt.opts)
			d, err := r.p.StartDevice(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if tt.setup != nil {
				tt.setup(r, d)
			}
			res, err := r.p.PollDevice(context.Background(), d)
			wantCode(t, err, tt.code)
			if res != nil || tt.cause != nil && !errors.Is(err, tt.cause) {
				t.Errorf("result %v, error %v; want cause %v", res, err, tt.cause)
			}
		})
	}
}

func TestDeviceFlowCancel(t *testing.T) {
	r := newDeviceRig(t, federationtest.Options{})
	d, err := r.p.StartDevice(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.onSleep = func(n int) {
		if n == 2 {
			cancel()
		}
	}
	if _, err := r.p.PollDevice(ctx, d); !errors.Is(err, context.Canceled) {
		t.Fatalf("PollDevice after cancel: %v, want context.Canceled", err)
	}
	if n := len(r.waits()); n != 2 {
		t.Errorf("%d waits, want 2 (no poll after the cancel)", n)
	}
}

func TestDeviceFlowWithoutEndpoint(t *testing.T) {
	r := newDeviceRig(t, federationtest.Options{})
	r.op.Misbehave(federationtest.Misbehavior{Discovery: func(doc map[string]any) { delete(doc, "device_authorization_endpoint") }})
	if _, err := r.p.StartDevice(context.Background()); !errors.Is(err, federation.ErrNoDeviceEndpoint) || !errors.Is(err, &federation.Error{Code: federation.CodeUnsupported}) {
		t.Fatalf("StartDevice: %v, want ErrNoDeviceEndpoint", err)
	}
}
