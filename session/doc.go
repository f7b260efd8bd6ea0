// Package session keeps the state of a sign-in between the redirect to the
// provider and the callback: a [FlowState] (state, nonce, PKCE verifier,
// where to go next), stored by a [FlowStore] and taken back exactly once.
//
// [CookieStore] seals each flow into its own cookie with AES-GCM, so that
// parallel sign-ins in several tabs never overwrite each other and no server
// storage is needed; a bounded set of consumed flow IDs makes a replayed
// cookie fail. [MemoryStore] keeps flows in the server process, at most
// MaxFlows, and binds each to the browser with a random cookie. Both refuse
// flows older than ten minutes and keep at most [MaxPendingFlows] flow
// cookies per browser. The [Codec] is exported for hosts that want sealed cookies of
// their own.
//
//	store, err := session.NewCookieStore(session.CookieConfig{Keys: [][]byte{key}, Secure: true})
//	err = store.Save(w, r, flow)
//	flow, err := store.Take(w, r, r.URL.Query().Get("state"))
package session
