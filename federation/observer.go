package federation

import (
	"context"
	"errors"
	"time"
)

// Observer receives what the library does, as typed events, for metrics
// and traces (the nested module github.com/oidcfed/oidcfed/otel turns them
// into OpenTelemetry). Set it with [WithObserver]; every field is
// optional, and an unset one costs a nil check.
//
// The functions run synchronously, on the goroutine that did the work
// (a request's, or a detached fetch's): keep them fast and never block.
// Events carry registry keys, step names, codes, durations and sizes:
// never a token, code, secret or email, nor the issuer of a token that
// matched no provider (it is the token sender's choice, so it would give
// an attacker unbounded metric series). A user's subject is included only
// with Subjects set.
type Observer struct {
	// Flow: a sign-in or link started (at the start route) or ended (at
	// its callback).
	Flow func(ctx context.Context, e FlowEvent)
	// Step: one step of a callback (discovery, token, id_token, userinfo,
	// accounts, on_login), with its duration.
	Step func(ctx context.Context, e StepEvent)
	// Bearer: a bearer token was verified or refused.
	Bearer func(ctx context.Context, e BearerEvent)
	// Fetch: a provider's discovery document or JWKS was fetched.
	Fetch func(ctx context.Context, e FetchEvent)
	// Logout: a back-channel logout request was verified or refused.
	Logout func(ctx context.Context, e LogoutObserved)
	// Refresh: Provider.Refresh ended.
	Refresh func(ctx context.Context, e RefreshEvent)
	// DevicePoll: one poll of the device flow's token request.
	DevicePoll func(ctx context.Context, e DevicePollEvent)
	// Subjects puts the user's subject in FlowEvent and BearerEvent. Off
	// by default: a subject identifies a person.
	Subjects bool
}

// WithObserver sets the registry's observer; the handler and the bearer
// middleware of the registry report to it too.
func WithObserver(o Observer) Option { return func(opts *options) { opts.observer = &o } }

// Phases of a FlowEvent.
const (
	PhaseStart    = "start"    // the start route answered
	PhaseCallback = "callback" // the callback route answered
)

// FlowEvent is a sign-in or link starting or ending.
type FlowEvent struct {
	Provider string        // registry key; "" for an unknown provider
	Mode     Mode          // ModeSignIn, ModeLink or ModeUpgrade
	Phase    string        // PhaseStart or PhaseCallback
	Outcome  Outcome       // at a successful callback: SignedIn, Created or Linked
	Code     Code          // "" on success, else the error code the browser got
	Duration time.Duration // the route's own time (the user's time at the provider is not in it)
	Subject  string        // with Observer.Subjects, at a successful callback
}

// Steps of a callback, in order; StepPushedAuthorization is a start's
// request to the PAR endpoint, StepRegistration a dynamic client
// registration (registration "dynamic") at the first request that needs
// the client.
const (
	StepRegistration        = "registration"
	StepPushedAuthorization = "pushed_authorization"
	StepDiscovery           = "discovery"
	StepToken               = "token"
	StepIDToken             = "id_token"
	StepUserinfo            = "userinfo"
	StepAccounts            = "accounts"
	StepOnLogin             = "on_login"
)

// StepEvent is one step of a callback.
type StepEvent struct {
	Provider string        // registry key
	Step     string        // StepRegistration, StepPushedAuthorization, StepDiscovery … StepOnLogin
	Duration time.Duration // the step's time
	Code     Code          // "" when the step succeeded
}

// BearerEvent is a bearer token verified or refused.
type BearerEvent struct {
	Provider string        // the provider the token's iss selected; "" when none
	CacheHit bool          // verified from the cache of verified tokens
	Code     Code          // "" when accepted, else invalid_token, insufficient_scope…
	Duration time.Duration // a verification's time past the cache; zero for a cache hit (well under 1 µs)
	Subject  string        // with Observer.Subjects, when accepted
}

// Kinds of a FetchEvent.
const (
	FetchDiscovery = "discovery"
	FetchJWKS      = "jwks"
)

// FetchEvent is one fetch of a provider's discovery document or JWKS.
type FetchEvent struct {
	Provider   string        // registry key
	Kind       string        // FetchDiscovery or FetchJWKS
	Status     int           // HTTP status; 0 when no answer came
	Bytes      int           // the body's size
	Duration   time.Duration // the fetch's time
	Failed     bool          // the fetch or its validation failed
	Stale      bool          // it failed and the expired document or keys are still served
	UnknownKey bool          // a JWKS fetched for a token's unknown key ID
}

// LogoutObserved is a back-channel logout request answered.
type LogoutObserved struct {
	Provider string        // registry key
	Code     Code          // "" when the sessions were ended, else why not
	Duration time.Duration // the request's time
}

// RefreshEvent is a Provider.Refresh that ended.
type RefreshEvent struct {
	Provider string
	Code     Code // "" on success; login_required when the session ended at the provider
	Duration time.Duration
}

// Results of a DevicePollEvent.
const (
	PollPending  = "pending"   // authorization_pending
	PollSlowDown = "slow_down" // the provider asked for a longer interval
	PollDone     = "done"      // the user approved: tokens came
	PollFailed   = "failed"    // denied, expired or another error (see Code)
)

// DevicePollEvent is one poll of the device flow.
type DevicePollEvent struct {
	Provider string
	Result   string // PollPending, PollSlowDown, PollDone or PollFailed
	Code     Code   // with PollFailed: access_denied, expired_token…
}

// codeOf is the code of err: "" for nil, the *Error's code, else
// server_error.
func codeOf(err error) Code {
	if err == nil {
		return ""
	}
	if fe, ok := errors.AsType[*Error](err); ok {
		return fe.Code
	}
	return CodeServerError
}
