package federation_test

// Userinfo rules: OpenID Connect Core 1.0 §5.3 (sub must match, §5.3.4),
// §5.3.2 (signed responses), RFC 6750 §2.1 (the token in the header).

import (
	"net/http"
	"testing"

	"github.com/oidcfed/oidcfed/claims"
	"github.com/oidcfed/oidcfed/discovery"
	"github.com/oidcfed/oidcfed/federation/federationtest"
)

func TestUserinfoRules(t *testing.T) { checkRules(t, untagged(userinfoRules())) }

// userinfoRules are the userinfo rules (those with modules run in
// TestConformance).
func userinfoRules() []rule {
	// The ID token carries no profile claims, so every sign-in calls
	// userinfo. The test provider refuses an access token in the query, so
	// a success proves the header was used.
	fromUserinfo := rpOptions{op: federationtest.Options{ProfileInUserinfoOnly: true}}
	userinfo := func(contentType, body string) federationtest.Misbehavior {
		return federationtest.Misbehavior{UserinfoEndpoint: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", contentType)
			w.Write([]byte(body))
		}}
	}
	return []rule{
		{name: "claims missing from the ID token come from userinfo, with the token in the header",
			modules: []string{"oidcc-client-test-scope-userinfo-claims", "oidcc-client-test-userinfo-bearer-header"},
			rp:      fromUserinfo},
		{name: "a userinfo sub of another user is rejected", modules: []string{"oidcc-client-test-userinfo-invalid-sub"},
			rp:  fromUserinfo,
			bad: federationtest.Misbehavior{Userinfo: func(c map[string]any) { c["sub"] = "mallory" }}, want: "invalid_token", cause: claims.ErrSubjectMismatch},
		{name: "a userinfo without sub is rejected", rp: fromUserinfo,
			bad: federationtest.Misbehavior{Userinfo: func(c map[string]any) { delete(c, "sub") }}, want: "invalid_token", cause: claims.ErrSubjectMismatch},
		{name: "a userinfo that is not JSON is rejected", rp: fromUserinfo, bad: userinfo("text/html", "<html>hi</html>"),
			want: "invalid_token", cause: errString("userinfo: response is not a JSON object")},
		{name: "a signed userinfo is verified and used", modules: []string{"oidcc-client-test-userinfo-signed"},
			rp: rpOptions{op: federationtest.Options{ProfileInUserinfoOnly: true, SignedUserinfo: true}}},
		{name: "a signed userinfo for another client is rejected",
			rp:  rpOptions{op: federationtest.Options{ProfileInUserinfoOnly: true, SignedUserinfo: true}},
			bad: federationtest.Misbehavior{Userinfo: func(c map[string]any) { c["aud"] = "client-2" }}, want: "invalid_token",
			cause: discovery.ErrTokenAudience},
		{name: "a signed userinfo from another issuer is rejected",
			rp:  rpOptions{op: federationtest.Options{ProfileInUserinfoOnly: true, SignedUserinfo: true}},
			bad: federationtest.Misbehavior{Userinfo: func(c map[string]any) { c["iss"] = "https://evil.example" }}, want: "invalid_token",
			cause: discovery.ErrTokenIssuer},
		{name: "a signed userinfo of another user is rejected",
			rp:  rpOptions{op: federationtest.Options{ProfileInUserinfoOnly: true, SignedUserinfo: true}},
			bad: federationtest.Misbehavior{Userinfo: func(c map[string]any) { c["sub"] = "mallory" }}, want: "invalid_token",
			cause: claims.ErrSubjectMismatch},
		{name: "an unsigned (alg none) userinfo JWT is rejected, never trusted unverified", rp: fromUserinfo,
			bad: userinfo("application/jwt", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhbGljZSJ9."), want: "invalid_token",
			cause: discovery.ErrUnsupportedAlgorithm},
	}
}
