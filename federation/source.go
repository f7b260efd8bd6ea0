package federation

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/oidcfed/oidcfed/internal/flight"
)

// ProviderSource supplies provider configurations on demand, for
// registries of more providers than a process should load at start-up: a
// database of tenants, a config service, files. The registry asks it the
// first time a key is used (a sign-in, a callback, a back-channel logout,
// or a bearer token when the source is also an [IssuerSource]) and keeps
// the answer; see [SourceConfig] for how long, and for the bounds.
//
// Provider returns the configuration of the provider name ("acme" for
// "oidc:acme"), or an error wrapping [ErrNoProvider] when there is none.
// Any other error is taken as "cannot answer now": the request fails with
// [CodeProviderUnavailable] and is asked again next time. The config is
// validated as [Registry.Set] validates it. Provider is called
// concurrently, for different names, and must honour ctx.
type ProviderSource interface {
	Provider(ctx context.Context, name string) (ProviderConfig, error)
}

// IssuerSource is a [ProviderSource] that also finds providers by issuer,
// so that a bearer token of a provider not yet loaded can be verified.
// ProvidersByIssuer returns the names of the providers whose issuer (or
// one of whose additionalIssuers) is iss, exactly as the token spells it;
// none, and a nil error, when there are none.
//
// Without it, bearer tokens are verified for the providers the registry
// has loaded (configured, Set, or loaded by a sign-in or [Registry.Load])
// and refused with [ErrUnknownIssuer] for the others.
type IssuerSource interface {
	ProviderSource
	ProvidersByIssuer(ctx context.Context, iss string) ([]string, error)
}

// ErrNoProvider is what a [ProviderSource] wraps when it has no provider
// of the name asked.
var ErrNoProvider = errors.New("federation: no such provider")

// Defaults of [SourceConfig].
const (
	DefaultSourceNegativeTTL   = time.Minute
	DefaultSourceNegativeSize  = 10_000
	DefaultSourceMaxConcurrent = 16
	DefaultSourceTimeout       = 5 * time.Second
)

// SourceConfig configures a registry's [ProviderSource]
// ([WithProviderSource]).
type SourceConfig struct {
	Source ProviderSource
	// TTL is how long a loaded config is used before the source is asked
	// again on the key's next use. If the answer is equal, nothing
	// changes; if it differs, the provider is replaced as by
	// [Registry.Set]; if it is ErrNoProvider, the provider is removed; if
	// the source fails, the loaded config is kept and asked again after
	// another TTL. 0: kept until [Registry.Forget].
	TTL time.Duration
	// NegativeTTL is how long "no such provider" is remembered, so that a
	// flood of unknown names costs one source lookup per name per TTL.
	// Default: [DefaultSourceNegativeTTL].
	NegativeTTL time.Duration
	// NegativeSize bounds the names (and issuers) remembered as unknown;
	// the least recently used are forgotten first. Default:
	// [DefaultSourceNegativeSize].
	NegativeSize int
	// MaxConcurrent bounds the source lookups in progress; more wait, as
	// long as their request lets them. Default:
	// [DefaultSourceMaxConcurrent].
	MaxConcurrent int
	// Timeout bounds a lookup whose request has no deadline. Default:
	// [DefaultSourceTimeout].
	Timeout time.Duration
}

// WithProviderSource has the registry load providers it does not hold
// from cfg.Source, on first use. Providers in [Config] and those given to
// [Registry.Set] are served as before and never asked for.
func WithProviderSource(cfg SourceConfig) Option {
	return func(o *options) { o.source = &cfg }
}

// sourced is the registry's state for its ProviderSource.
type sourced struct {
	cfg      SourceConfig
	sem      chan struct{}
	unknown  *lru.Cache[string, time.Time] // "name" or "iss:<issuer>" → until
	names    flight.Group[string, *Provider]
	issuers  flight.Group[string, []string]
	mu       sync.Mutex
	loadedAt map[string]time.Time // key → when loaded; providers from the source only
}

func newSourced(cfg SourceConfig) *sourced {
	if cfg.NegativeTTL <= 0 {
		cfg.NegativeTTL = DefaultSourceNegativeTTL
	}
	if cfg.NegativeSize <= 0 {
		cfg.NegativeSize = DefaultSourceNegativeSize
	}
	if cfg.MaxConcurrent <= 0 {
		cfg.MaxConcurrent = DefaultSourceMaxConcurrent
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultSourceTimeout
	}
	unknown, _ := lru.New[string, time.Time](cfg.NegativeSize) // size > 0
	return &sourced{cfg: cfg, sem: make(chan struct{}, cfg.MaxConcurrent), unknown: unknown,
		loadedAt: map[string]time.Time{}}
}

// isUnknown reports whether id was answered unknown within the negative TTL.
func (s *sourced) isUnknown(id string, now time.Time) bool {
	until, ok := s.unknown.Get(id)
	if ok && now.After(until) {
		s.unknown.Remove(id)
		return false
	}
	return ok
}

// ask runs fn under the concurrency limit, with ctx's deadline or the
// default timeout, detached from ctx's cancellation: waiters of the same
// lookup share its result.
func (s *sourced) ask(ctx context.Context, fn func(ctx context.Context) error) error {
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(s.cfg.Timeout)
	}
	ctx, cancel := context.WithDeadline(context.WithoutCancel(ctx), deadline)
	defer cancel()
	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("waiting for a provider source slot: %w", ctx.Err())
	}
	defer func() { <-s.sem }()
	return fn(ctx)
}

// provider returns the provider for key: a loaded one, or one loaded now
// from the source. Its errors are [*Error] values: [CodeUnknownProvider]
// or [CodeProviderUnavailable].
func (r *Registry) provider(ctx context.Context, key string) (*Provider, error) {
	p, ok := r.Lookup(key)
	s := r.source
	if s == nil || (ok && !r.sourceExpired(key)) {
		if !ok {
			return nil, errUnknownProvider(key)
		}
		return p, nil
	}
	name, _ := nameOf(key)
	if !providerName.MatchString(name) {
		return nil, errUnknownProvider(key)
	}
	if !ok && s.isUnknown(name, r.opts.now()) {
		return nil, errUnknownProvider(key)
	}
	loaded, err := s.names.Do(ctx, name, func() (*Provider, error) {
		// Checked again inside the flight: a flight that ended between the
		// caller's lookup and this one has loaded the provider (or learnt
		// that there is none) already.
		if p, ok := r.Lookup(key); ok && !r.sourceExpired(key) {
			return p, nil
		}
		if s.isUnknown(name, r.opts.now()) {
			return nil, nil
		}
		return r.load(ctx, name)
	})
	if err != nil {
		var e *Error
		if errors.As(err, &e) {
			return nil, err
		}
		return nil, newError(CodeProviderUnavailable, "the identity provider's configuration could not be loaded", err)
	}
	if loaded == nil {
		return nil, errUnknownProvider(key)
	}
	return loaded, nil
}

func errUnknownProvider(key string) error {
	return newError(CodeUnknownProvider, "no identity provider is configured under this name",
		fmt.Errorf("%w: %s", ErrNoProvider, key))
}

// nameOf is the provider name of key "oidc:<name>".
func nameOf(key string) (string, bool) {
	const prefix = "oidc:"
	if len(key) <= len(prefix) || key[:len(prefix)] != prefix {
		return "", false
	}
	return key[len(prefix):], true
}

// sourceExpired reports whether key was loaded from the source longer
// than its TTL ago.
func (r *Registry) sourceExpired(key string) bool {
	s := r.source
	if s.cfg.TTL <= 0 {
		return false
	}
	s.mu.Lock()
	at, ok := s.loadedAt[key]
	s.mu.Unlock()
	return ok && r.opts.now().Sub(at) >= s.cfg.TTL
}

// load asks the source for name and installs the answer: nil for no
// such provider.
func (r *Registry) load(ctx context.Context, name string) (*Provider, error) {
	s, key := r.source, Key(name)
	var pc ProviderConfig
	err := s.ask(ctx, func(ctx context.Context) (err error) {
		pc, err = s.cfg.Source.Provider(ctx, name)
		return err
	})
	cur, loaded := r.Lookup(key)
	switch {
	case errors.Is(err, ErrNoProvider):
		s.unknown.Add(name, r.opts.now().Add(s.cfg.NegativeTTL))
		if loaded && r.fromSource(key) {
			r.Remove(name)
		}
		return nil, nil
	case err != nil && loaded:
		// A refresh failed: keep serving what was loaded.
		r.opts.logger.Warn("federation: provider source failed; keeping the loaded config",
			"provider", key, "error", err)
		r.markLoaded(key)
		return cur, nil
	case err != nil:
		r.opts.logger.Warn("federation: provider source failed", "provider", key, "error", err)
		return nil, err
	}
	eff, errs := pc.effective(name)
	if len(errs) > 0 {
		all := make([]error, len(errs))
		for i, e := range errs {
			all[i] = e
			r.opts.logger.Error("federation: provider source gave an invalid config", "provider", key, "error", e)
		}
		return nil, newError(CodeProviderUnavailable, "the identity provider is misconfigured", errors.Join(all...))
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	old, ok := r.providers[key]
	if ok && !r.fromSource(key) {
		return old, nil // Set while the source answered: Set wins
	}
	if ok && reflect.DeepEqual(*old.givenConfig(), pc) {
		r.markLoaded(key)
		return old, nil
	}
	p := r.install(name, pc, eff, old)
	r.markLoaded(key)
	r.opts.logger.Info("federation: provider loaded from source", "provider", key, "issuer", eff.Issuer)
	return p, nil
}

func (r *Registry) markLoaded(key string) {
	r.source.mu.Lock()
	r.source.loadedAt[key] = r.opts.now()
	r.source.mu.Unlock()
}

// fromSource reports whether key was loaded from the source (and not
// configured or Set since).
func (r *Registry) fromSource(key string) bool {
	if r.source == nil {
		return false
	}
	r.source.mu.Lock()
	defer r.source.mu.Unlock()
	_, ok := r.source.loadedAt[key]
	return ok
}

// forgetSourced stops treating key as loaded from the source: it was Set
// or removed.
func (r *Registry) forgetSourced(key string) {
	if r.source == nil {
		return
	}
	r.source.mu.Lock()
	delete(r.source.loadedAt, key)
	r.source.mu.Unlock()
}

// Load loads the provider name from the registry's [ProviderSource] now,
// unless it is already loaded: to warm a registry before traffic, or to
// make a provider's bearer tokens acceptable when the source is not an
// [IssuerSource]. Its errors are as the start route reports them:
// [CodeUnknownProvider] or [CodeProviderUnavailable].
func (r *Registry) Load(ctx context.Context, name string) (*Provider, error) {
	return r.provider(ctx, Key(name))
}

// Forget drops what the registry remembers from its [ProviderSource] about
// name: the loaded provider (its caches released; the source is asked
// again on next use) or the answer that there is none. Providers from
// [Config] or [Registry.Set] are not affected. Sign-ins in flight
// continue if the config reloaded is unchanged, and fail with
// [CodeProviderChanged] if it changed.
func (r *Registry) Forget(name string) {
	if r.source == nil {
		return
	}
	r.source.unknown.Remove(name)
	key := Key(name)
	if r.fromSource(key) {
		r.Remove(name)
	}
}

// providersForIssuer loads, through an [IssuerSource], the providers of
// a bearer token's iss that the registry does not hold; the caller looks
// the issuer up again afterwards.
func (r *Registry) providersForIssuer(ctx context.Context, iss string) error {
	s := r.source
	is, ok := s.cfg.Source.(IssuerSource)
	if !ok || iss == "" || s.isUnknown("iss:"+iss, r.opts.now()) {
		return nil
	}
	names, err := s.issuers.Do(ctx, iss, func() (names []string, err error) {
		if r.providerForIssuer(iss, nil) != nil {
			return nil, nil // loaded by a flight that ended after the caller looked
		}
		err = s.ask(ctx, func(ctx context.Context) (err error) {
			names, err = is.ProvidersByIssuer(ctx, iss)
			return err
		})
		if err == nil && len(names) == 0 {
			s.unknown.Add("iss:"+iss, r.opts.now().Add(s.cfg.NegativeTTL))
		}
		return names, err
	})
	if err != nil {
		r.opts.logger.Warn("federation: provider source failed", "issuer", iss, "error", err)
		return newError(CodeProviderUnavailable,
			"the identity provider's configuration could not be loaded; try again later", err)
	}
	for _, name := range names {
		if _, err := r.provider(ctx, Key(name)); err != nil && !errors.Is(err, ErrNoProvider) {
			return err
		}
	}
	return nil
}
