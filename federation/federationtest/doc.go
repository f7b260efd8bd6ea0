// Package federationtest is an OpenID Provider that runs in process on a
// loopback port, for tests and demos: discovery, JWKS (RS256 and ES256, with
// rotation), authorization (auto-approve or a user-picker page), token (PKCE
// S256 enforced, client_secret_basic or client_secret_post), userinfo and
// end_session.
//
// Its misbehaviour knobs act on the wire — on the bytes it signs and the HTTP
// responses it sends — never as flags the relying party reads, so a test of a
// rejection proves the relying party rejects what a real provider could send.
//
//	op := federationtest.New(t, federationtest.Options{}) // closed when the test ends
//	op.AddClient(federationtest.Client{ID: "app", Secret: "s", RedirectURIs: []string{cb}})
//	op.AddUser(federationtest.User{Subject: "alice", Email: "alice@example.com", EmailVerified: true})
//	op.Misbehave(federationtest.Misbehavior{IDTokenClaims: func(c map[string]any) { c["nonce"] = "x" }})
package federationtest
