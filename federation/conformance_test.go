package federation_test

import (
	"strings"
	"testing"

	"github.com/oidcfed/oidcfed/federation"
)

// TestConformance runs the cases that mirror a module of the OpenID
// Foundation's RP conformance plans, each named after its module:
// go test -run 'TestConformance/oidcc-client-test-nonce-invalid'.
// docs/conformance.md maps every module to its test.
func TestConformance(t *testing.T) {
	for _, r := range append(idTokenRules(t), userinfoRules()...) {
		for _, m := range r.modules {
			r.name = m
			checkRules(t, []rule{r})
		}
	}
	// The Form Post plan: the same modules, the provider answering with
	// response_mode=form_post (the browser posts its page as a script would).
	for _, r := range append(idTokenRules(t), userinfoRules()...) {
		prev := r.rp.provider
		r.rp.provider = func(pc *federation.ProviderConfig) {
			if prev != nil {
				prev(pc)
			}
			pc.ResponseMode = "form_post"
		}
		for _, m := range r.modules {
			r.name = "form-post/" + m
			checkRules(t, []rule{r})
		}
	}
	// The Dynamic plan's variant (client_registration dynamic_client):
	// the same modules, the client registered at the provider first.
	for _, r := range append(idTokenRules(t), userinfoRules()...) {
		if r.rp.public {
			continue // a public client is configured, not registered
		}
		prev := r.rp.provider
		r.rp.op.Registration = true
		r.rp.provider = func(pc *federation.ProviderConfig) {
			if prev != nil {
				prev(pc)
			}
			pc.ClientID, pc.ClientSecret, pc.Registration = "", "", "dynamic"
		}
		for _, m := range r.modules {
			r.name = "dynamic/" + m
			checkRules(t, []rule{r})
		}
	}
	for _, r := range refreshRejections() {
		for _, m := range r.modules {
			t.Run(m, r.run)
		}
	}
	t.Run("oidcc-client-test-refresh-token", TestRefresh)
	l := newLogoutRP(t)
	for _, r := range backchannelRejections(t, l) {
		for _, m := range r.modules {
			t.Run(m, func(t *testing.T) { r.run(t, l) })
		}
	}
	t.Run("oidcc-client-test-rp-init-logout-no-state", func(t *testing.T) { logoutStateRefused(t, "") })
	t.Run("oidcc-client-test-rp-init-logout-other-state", func(t *testing.T) {
		logoutStateRefused(t, "some-other-state-value")
	})
	webFingerModules(t, "oidcc-client-test-discovery-webfinger-acct", func(iss string) []string {
		host := strings.TrimPrefix(iss, "http://")
		return []string{"acct:alice@" + host, "alice@" + host}
	})
	webFingerModules(t, "oidcc-client-test-discovery-webfinger-url", func(iss string) []string {
		return []string{iss + "/alice"}
	})
	t.Run("oidcc-client-test-userinfo-bearer-body", userinfoBearerBody)
	// Modules whose whole test is one of the library's tests.
	for module, test := range map[string]func(*testing.T){
		"oidcc-client-test":                             TestSignInHappyPaths,
		"oidcc-client-test-client-secret-basic":         TestSignInHappyPaths,
		"oidcc-client-test-mtls-endpoint-aliases":       TestSelfSignedTLSClientAuth,
		"oidcc-client-test-form-post-error":             TestFormPostError,
		"oidcc-client-test-rp-init-logout":              TestHandlerLogoutURL,
		"oidcc-client-test-rp-backchannel-rpinitlogout": TestBackchannelLogout,
		"oidcc-client-test-3rd-party-init-login":        TestThirdPartyInitiatedLogin,
		"oidcc-client-test-distributed-claims":          TestDistributedClaims,
		"oidcc-client-test-aggregated-claims":           TestAggregatedClaims,
		"oidcc-client-test-dynamic-registration":        TestDynamicRegistration,
		"oidcc-client-test-request-uri-signed-rs256":    TestRequestURISigned,
		"oidcc-client-test-request-uri-signed-none":     TestRequestURIUnsigned,
	} {
		t.Run(module, test)
	}
}
