package federation

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/oidcfed/oidcfed/discovery"
	"github.com/oidcfed/oidcfed/internal/clock"
	"github.com/oidcfed/oidcfed/internal/flight"
	"github.com/oidcfed/oidcfed/internal/httpx"
	"github.com/oidcfed/oidcfed/internal/urlcheck"
	"github.com/oidcfed/oidcfed/session"
)

// Option configures a [Registry].
type Option func(*options)

type options struct {
	client   *http.Client
	logger   *slog.Logger
	now      func() time.Time
	leeway   time.Duration
	cache    int // bearer-token cache size
	sleep    func(ctx context.Context, d time.Duration) error
	observer *Observer // nil: no events
	source   *SourceConfig
	replay   session.ReplayGuard
	values   session.ValueStore
	sealKeys [][]byte
}

// jtiCapacity bounds the default guard of logout-token jtis: a token
// forgotten early by a flood of newer ones is refused (the guard fails
// closed), and a provider's short exp ends that refusal quickly.
const jtiCapacity = 16384

// WithReplayGuard sets the guard that makes each back-channel logout
// token single use (by jti, until its exp). Several server instances share
// one. Default: a [session.MemoryReplayGuard] of 16 384 IDs.
func WithReplayGuard(g session.ReplayGuard) Option { return func(o *options) { o.replay = g } }

// WithValueStore sets the store for what every instance must see besides
// flows and sessions: dynamically registered clients (registration
// "dynamic"), sealed with keys (32 bytes each; the first seals, all
// open), and request objects served by reference. Several server
// instances share one (oidcfedredis.NewValueStore, oidcfedsql.Store.Values).
// Default: a [session.MemoryValues] of 10 000 values, for one instance.
// keys are required with any store but a *session.MemoryValues.
func WithValueStore(s session.ValueStore, keys ...[]byte) Option {
	return func(o *options) { o.values, o.sealKeys = s, keys }
}

// WithHTTPClient sets the client for every request to providers. Its
// responses are capped at 1 MiB. Default: a client with a 10 s timeout.
func WithHTTPClient(c *http.Client) Option { return func(o *options) { o.client = c } }

// WithLogger sets the logger. Default: discard.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithClock sets the clock for token and cache expiry. Default: time.Now.
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// WithLeeway sets the clock skew tolerated for exp, nbf and iat. Default: 1 minute.
func WithLeeway(d time.Duration) Option { return func(o *options) { o.leeway = d } }

// WithSleep sets how the registry waits (between device-flow polls): it
// must return after d, or early with ctx's error. Tests pass one that
// advances a fake clock. Default: a timer.
func WithSleep(sleep func(ctx context.Context, d time.Duration) error) Option {
	return func(o *options) { o.sleep = sleep }
}

// WithBearerCacheSize sets how many verified bearer tokens are remembered
// (until each one's exp) so that a token sent again is not verified again.
// 0 turns the cache off. Default: [DefaultBearerCacheSize].
func WithBearerCacheSize(n int) Option { return func(o *options) { o.cache = n } }

// Registry holds the configured providers, keyed "oidc:<name>".
type Registry struct {
	opts   options
	cache  *discovery.Cache
	tokens *tokenCache
	jtis   session.ReplayGuard // back-channel logout tokens seen
	// exchange is the client for token-endpoint requests (tokenendpoint.go),
	// capped at maxTokenResponse.
	exchange *http.Client
	allowed  []allowed

	mu        sync.RWMutex // guards providers; held for writing while index is rebuilt
	providers map[string]*Provider
	index     atomic.Pointer[issuerIndex]  // bearer-token issuer → providers
	source    *sourced                     // nil without WithProviderSource
	sources   map[*discovery.Source]string // → key, for fetch events; guarded by mu
	keySets   keySets                      // JWKS URI → the key set its providers share
	domains   sync.Map                     // email domain → provider key (emailDomains)
	// values keeps registrations and request objects; registering runs
	// one registration per provider at a time; handler is the Handler
	// whose URLs registrations name (the latest NewHandler).
	values      values
	registering flight.Group[string, *clientCreds]
	handler     atomic.Pointer[Handler]
}

// NewRegistry validates cfg and builds its providers. Nothing is fetched
// until a provider is first used. Its errors are [*ConfigError] values,
// joined, as [Config.Validate] returns them.
func NewRegistry(cfg Config, opts ...Option) (*Registry, error) {
	o := options{leeway: time.Minute, cache: DefaultBearerCacheSize}
	for _, opt := range opts {
		opt(&o)
	}
	if o.client == nil {
		o.client = httpx.NewClient(nil, 0, 0)
	}
	o.client = httpx.Capped(o.client, 0)
	if o.logger == nil {
		o.logger = slog.New(slog.DiscardHandler)
	}
	o.now = clock.Or(o.now)
	r := &Registry{opts: o, providers: map[string]*Provider{}, tokens: newTokenCache(o.cache, o.now), jtis: o.replay}
	if r.jtis == nil {
		r.jtis = session.NewMemoryReplayGuard(session.ReplayConfig{Max: jtiCapacity, Now: o.now})
	}
	if err := r.values.init(o); err != nil {
		return nil, err
	}
	// No count bound: the cache holds what the configured providers use,
	// and Remove and Set release what they no longer do.
	cc := discovery.CacheConfig{Client: o.client, Now: o.now, Logger: o.logger, Size: -1}
	if o.observer != nil && o.observer.Fetch != nil {
		cc.OnFetch = func(src *discovery.Source, info discovery.FetchInfo) {
			r.observeFetch(r.keyOfSource(src), FetchDiscovery, info)
		}
	}
	r.cache = discovery.NewCache(cc)
	ex := *o.client
	ex.Transport = httpx.Cap(o.client.Transport, maxTokenResponse)
	r.exchange = &ex
	r.providers = make(map[string]*Provider, len(cfg.Providers))
	r.sources = make(map[*discovery.Source]string, len(cfg.Providers))
	srcs := make([]*discovery.Source, 0, len(cfg.Providers))
	err := cfg.effective(func(name string, given, eff ProviderConfig) {
		p := r.newProvider(name, given, eff)
		r.providers[p.key] = p
		r.sources[p.src] = p.key
		srcs = append(srcs, p.src)
	})
	if err != nil {
		return nil, err
	}
	r.cache.Retain(srcs...)
	for _, a := range cfg.AllowedRedirects {
		al, _ := parseAllowed(a) // validated by effective
		r.allowed = append(r.allowed, al)
	}
	r.index.Store(buildIndex(r.providers))
	for _, p := range r.providers {
		r.indexDomains(p, true)
	}
	if o.source != nil {
		if o.source.Source == nil {
			return nil, &ConfigError{Field: "source", Path: "WithProviderSource",
				Err: errors.New("SourceConfig.Source is nil")}
		}
		r.source = newSourced(*o.source)
	}
	return r, nil
}

// newProvider builds a provider from its validated configuration: as
// given (for Set's comparison) and with its preset applied.
func (r *Registry) newProvider(name string, given, pc ProviderConfig) *Provider {
	newSource := discovery.NewSource
	if pc.multiTenant() {
		newSource = discovery.NewTenantSource
	}
	src, _ := newSource(pc.Issuer, pc.DiscoveryURL, pc.Endpoints) // validated
	mapper, _ := pc.Claims.Compile()
	keys := pc.credentials // read by validation
	pc.credentials = nil   // so that cfg equals the config given, without a preset
	p := &Provider{key: Key(name), cfg: pc, src: src, reg: r, mapper: mapper, scopes: pc.scopes(), clientKeys: keys,
		static: &clientCreds{id: pc.ClientID, secret: pc.ClientSecret}}
	if mutualTLS(pc.TokenEndpointAuthMethod) {
		p.tlsClient, p.tlsExchange, p.tlsErr = mutualTLSClients(r.opts.client, r.exchange,
			p.clientKey().tlsCertificate())
	}
	if pc.IntrospectOpaqueTokens {
		p.intro = newIntrospector()
	}
	if k := p.clientKey(); k != nil && k.Certificate() != nil {
		if problem := certificateStatus(k.Certificate(), r.opts.now()); problem != "" {
			// Not refused: the provider decides, and a certificate
			// replaced at the provider first may still be accepted.
			r.opts.logger.Warn("federation: client certificate not valid now", "provider", p.key, "problem", problem)
		}
	}
	if given.Preset != "" { // else the preset changed nothing: one copy
		g := given // only this copy reaches the heap
		p.given = &g
	}
	if pc.FrontendURL != "" {
		u, _ := parseFrontend(pc.FrontendURL)
		if u.IsAbs() {
			p.frontend = &allowed{origin: strings.ToLower(u.Scheme + "://" + u.Host),
				prefix: strings.TrimSuffix(u.EscapedPath(), "/")}
		}
	}
	return p
}

// configVersion identifies a provider configuration, the same in every
// process that loads it. The secret is left out (it marshals redacted):
// rotating it does not strand sign-ins in flight.
func configVersion(pc ProviderConfig) string {
	b, _ := json.Marshal(pc)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

// Set adds the provider name ("acme" for "oidc:acme") or replaces it, while
// the registry serves. The config is validated as [Config.Validate] does,
// with every problem reported. Setting a provider to a config equal to its
// current one changes nothing: its caches and in-flight sign-ins carry on.
// After a real change, sign-ins started before it fail at the callback
// with [CodeProviderChanged], and its cached bearer tokens are dropped.
func (r *Registry) Set(name string, pc ProviderConfig) error {
	eff, errs := pc.effective(name)
	if len(errs) > 0 {
		all := make([]error, len(errs))
		for i, e := range errs {
			all[i] = e
		}
		return errors.Join(all...)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	key := Key(name)
	old, ok := r.providers[key]
	r.forgetSourced(key) // Set's config is kept until Set or Remove
	if ok && reflect.DeepEqual(*old.givenConfig(), pc) {
		return nil
	}
	r.install(name, pc, eff, old)
	r.opts.logger.Info("federation: provider set", "provider", key, "issuer", eff.Issuer)
	return nil
}

// install puts a provider for name in place of old (nil when none) and
// returns it; r.mu must be held for writing.
func (r *Registry) install(name string, given, eff ProviderConfig, old *Provider) *Provider {
	p := r.newProvider(name, given, eff)
	if old != nil {
		r.tokens.evict(p.key, "")
		r.unindex(old)
		r.cache.Release(old.src)
		delete(r.sources, old.src)
		r.releaseKeys(old)
	}
	r.providers[p.key] = p
	r.cache.Retain(p.src)
	r.sources[p.src] = p.key
	r.addToIndex(p)
	return p
}

// Remove removes the provider name while the registry serves, and reports
// whether it was registered. Sign-ins in flight for it fail at the callback
// with [CodeProviderRemoved]; its bearer tokens are refused from now on.
func (r *Registry) Remove(name string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	key := Key(name)
	old, ok := r.providers[key]
	if !ok {
		return false
	}
	delete(r.providers, key)
	r.forgetSourced(key)
	r.tokens.evict(key, "")
	r.unindex(old)
	r.cache.Release(old.src)
	delete(r.sources, old.src)
	r.releaseKeys(old)
	r.opts.logger.Info("federation: provider removed", "provider", key)
	return true
}

// issuerIndex finds the providers of a bearer token's iss without scanning
// and without a lock: exact maps every accepted spelling of an issuer to
// its providers, sorted by key, each slice replaced whole when it changes;
// tenants lists the multi-tenant providers, whose iss varies by tenant.
// A change touches only its provider's issuers: O(1) in the number of
// providers (the tenants list, copied on change, holds the few
// multi-tenant ones).
type issuerIndex struct {
	exact   sync.Map // string → []*Provider
	tenants atomic.Pointer[[]*Provider]
}

// issuerNames calls f with each spelling of p's issuer that a token's iss
// may have.
func issuerNames(p *Provider, f func(name string)) {
	iss := p.src.Issuer().String()
	f(iss)
	for _, a := range p.cfg.AdditionalIssuers {
		f(a)
	}
	if p.src.Issuer().Bare() {
		f(iss + "/")
	}
}

// buildIndex indexes providers at once, for NewRegistry.
func buildIndex(providers map[string]*Provider) *issuerIndex {
	ix := &issuerIndex{}
	var tenants []*Provider
	for _, p := range providers {
		if p.cfg.multiTenant() {
			tenants = append(tenants, p)
			continue
		}
		issuerNames(p, func(n string) {
			v, ok := ix.exact.Load(n)
			if !ok {
				ix.exact.Store(n, []*Provider{p})
				return
			}
			ix.exact.Store(n, insertByKey(v.([]*Provider), p))
		})
	}
	slices.SortFunc(tenants, func(a, b *Provider) int { return strings.Compare(a.key, b.key) })
	ix.tenants.Store(&tenants)
	return ix
}

// insertByKey returns a copy of ps, sorted by key, with p added.
func insertByKey(ps []*Provider, p *Provider) []*Provider {
	i, _ := slices.BinarySearchFunc(ps, p.key, func(q *Provider, k string) int { return strings.Compare(q.key, k) })
	return slices.Insert(slices.Clone(ps), i, p)
}

// addToIndex indexes p; r.mu must be held for writing.
func (r *Registry) addToIndex(p *Provider) {
	r.editIndex(p, func(ps []*Provider) []*Provider { return insertByKey(ps, p) })
	r.indexDomains(p, true)
}

// indexDomains adds (or removes) p's emailDomains to the domain index.
// A domain another provider already has stays with it.
func (r *Registry) indexDomains(p *Provider, add bool) {
	for _, d := range p.cfg.EmailDomains {
		d = strings.ToLower(d)
		if add {
			r.domains.LoadOrStore(d, p.key)
		} else {
			r.domains.CompareAndDelete(d, p.key)
		}
	}
}

// unindex removes p from the index; r.mu must be held for writing.
func (r *Registry) unindex(p *Provider) {
	r.indexDomains(p, false)
	r.editIndex(p, func(ps []*Provider) []*Provider {
		return slices.DeleteFunc(slices.Clone(ps), func(q *Provider) bool { return q == p })
	})
}

// editIndex replaces, with edit's copy, each index slice that holds p's
// issuers.
func (r *Registry) editIndex(p *Provider, edit func([]*Provider) []*Provider) {
	ix := r.index.Load()
	if p.cfg.multiTenant() {
		next := edit(*ix.tenants.Load())
		ix.tenants.Store(&next)
		return
	}
	issuerNames(p, func(n string) {
		var ps []*Provider
		if v, ok := ix.exact.Load(n); ok {
			ps = v.([]*Provider)
		}
		if next := edit(ps); len(next) > 0 {
			ix.exact.Store(n, next)
		} else {
			ix.exact.Delete(n)
		}
	})
}

// sleep waits d or until ctx ends.
func (r *Registry) sleep(ctx context.Context, d time.Duration) error {
	if r.opts.sleep != nil {
		return r.opts.sleep(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// leeway is the clock skew tolerated in token times.
func (r *Registry) leeway() time.Duration {
	if r.opts.leeway == 0 {
		return time.Minute // discovery.VerifierConfig's default
	}
	return r.opts.leeway
}

// allows reports whether u is under one of Config.AllowedRedirects.
func (r *Registry) allows(u *url.URL) bool {
	return slices.ContainsFunc(r.allowed, func(a allowed) bool { return a.allows(u) })
}

// allows reports whether u is under a. A path with a dot segment is
// never under a: a browser resolves it, and may leave the prefix.
func (a allowed) allows(u *url.URL) bool {
	return strings.ToLower(u.Scheme+"://"+u.Host) == a.origin && !urlcheck.HasDotSegment(u.EscapedPath()) &&
		(a.prefix == "" || u.EscapedPath() == a.prefix || strings.HasPrefix(u.EscapedPath(), a.prefix+"/"))
}

// maxTokenResponse caps token endpoint responses: ID and access tokens with
// hundreds of groups stay far below it.
const maxTokenResponse = 256 << 10

// keyOfSource is the key of the provider whose source src is ("" when
// none is, e.g. after a removal).
func (r *Registry) keyOfSource(src *discovery.Source) string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.sources[src]
}

// observeFetch reports a discovery or JWKS fetch to the observer.
func (r *Registry) observeFetch(provider, kind string, info discovery.FetchInfo) {
	r.opts.observer.Fetch(context.Background(), FetchEvent{Provider: provider, Kind: kind, Status: info.Status,
		Bytes: info.Bytes, Duration: info.Duration, Failed: info.Err != nil, Stale: info.Stale,
		UnknownKey: info.UnknownKey})
}

// Key returns the registry key of a provider name: "oidc:<name>".
func Key(name string) string { return "oidc:" + name }

// Lookup returns the provider registered under key ("oidc:acme"). It
// never asks a [ProviderSource]; [Registry.Load] does.
func (r *Registry) Lookup(key string) (*Provider, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	p, ok := r.providers[key]
	return p, ok
}

// Keys returns the registered keys, sorted: with a [ProviderSource], the
// providers loaded so far.
func (r *Registry) Keys() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return sortedKeys(r.providers)
}

// String lists the registered keys.
func (r *Registry) String() string { return fmt.Sprintf("federation.Registry%v", r.Keys()) }
