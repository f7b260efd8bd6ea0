// Package federation signs users in to a Go web server with any OpenID
// Connect provider that serves discovery.
//
// A [Registry] holds the providers of a [Config], each under the key
// "oidc:<name>". A [Handler], mounted under /auth/oauth, serves
//
//	GET  oidc:{name}                 start: 302 to the provider (or {"url"} with Accept: application/json)
//	GET  oidc:{name}/callback        finish: verify, decide the account, call OnLogin, 302 to redirectTo
//	POST link/oidc:{name}            start linking to the signed-in account (same-origin only): 303
//	GET  link/oidc:{name}/callback   attach the identity if the browser is still signed in to that account
//
// The flow is the authorization code flow with PKCE S256, state and nonce,
// always. The flow state lives in a [session.FlowStore] for at most ten
// minutes and can be taken once. The callback checks the RFC 9207 iss
// parameter, exchanges the code with the client authentication the
// provider's metadata names, verifies the ID token (signature, iss, aud,
// exp, nbf, iat, nonce, azp, at_hash), reads userinfo when the ID token
// lacks what the scopes promise, and maps the claims to a [claims.User].
//
// What a verified sign-in means for the host's accounts is the host's
// decision, through [Accounts]. [LinkByVerifiedEmail] over a
// [LinkingStore] is the default policy: identities are keyed by (issuer,
// subject), and an email links two of them only when both the provider and
// the local account verified it (docs/linking.md). [SignInOrCreate] over an
// [AccountStore] is the minimal policy that never links. The host sets its
// own session in OnLogin and tells the handler who is signed in through
// CurrentAccount.
//
// Every failure is an [*Error] with a stable Code. A failure before the
// flow state is known (missing, unknown, expired or replayed state) answers
// 400 JSON with invalid_state; any later failure redirects to the flow's
// redirectTo with error and error_description query parameters. Client
// secrets and tokens are [Secret] values that print and log as [redacted].
package federation
