package federation_test

import "testing"

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
	for _, r := range refreshRejections() {
		for _, m := range r.modules {
			t.Run(m, r.run)
		}
	}
	t.Run("oidcc-client-test-refresh-token", TestRefresh)
}
