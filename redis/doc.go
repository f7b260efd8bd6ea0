// Package oidcfedredis keeps what several oidcfed server instances must
// share in Redis: the replay guard that makes each sign-in flow and each
// back-channel logout token single use across instances, and the host
// sessions ([HostStore]) that a back-channel logout received by any
// instance ends everywhere.
//
// Flows themselves need no shared storage: a [session.CookieStore] seals
// each flow into the browser's own cookie, and instances that share its
// keys open each other's. What they must share is the knowledge that a
// flow was completed, which [ReplayGuard] keeps, with one Redis round trip
// per callback:
//
//	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
//	guard := oidcfedredis.NewReplayGuard(rdb, oidcfedredis.Config{})
//	flows, err := oidcfedredis.NewFlowStore(guard, session.CookieConfig{Keys: keys, Secure: true})
//	reg, err := federation.NewRegistry(cfg, federation.WithReplayGuard(guard))
//	sessions, err := session.NewSessions(session.SessionsConfig{Keys: keys, Secure: true,
//		Store: oidcfedredis.NewHostStore(rdb, oidcfedredis.Config{})})
//
// [ValueStore] keeps what federation.WithValueStore holds (dynamically
// registered clients, sealed by the registry; request objects served by
// reference) for every instance:
//
//	reg, err := federation.NewRegistry(cfg, federation.WithReplayGuard(guard),
//		federation.WithValueStore(oidcfedredis.NewValueStore(rdb, oidcfedredis.Config{}), keys...))
//
// Keys are the configured prefix ("oidcfed:" by default) followed by
// "replay:", "session:", "sub:", "sid:" or "value:" and a SHA-256, never a state,
// jti, session ID or token; session records hold their tokens sealed. Each
// key expires in Redis a minute after what it holds.
//
// Tested against Redis 7 (Debian 12's redis-server); Valkey is untested.
// When Redis cannot be reached, the handler answers 503
// temporarily_unavailable and records nothing; a flow that was in flight
// may have to be started again. Single use across a Redis restart needs
// persistence (appendonly yes with appendfsync everysec loses at most a
// second of writes); without it, a restart forgets the flows completed in
// the last 10 minutes, which the callback's other checks (PKCE, the
// provider's single-use codes) still refuse to complete twice, and signs
// every browser out. With persistence on, sessions survive a restart.
package oidcfedredis
