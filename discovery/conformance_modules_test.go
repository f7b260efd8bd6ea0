package discovery

import "testing"

// TestConformance names the discovery behaviour after the RP modules of
// the OpenID Foundation's conformance plans that it mirrors
// (docs/conformance.md); each wraps the test that asserts it.
func TestConformance(t *testing.T) {
	for module, test := range map[string]func(*testing.T){
		"oidcc-client-test-discovery-openid-config":         TestDiscoveryValidation,
		"oidcc-client-test-discovery-issuer-mismatch":       TestDiscoveryValidation,
		"oidcc-client-test-discovery-jwks-uri-keys":         TestKeySetRotation,
		"oidcc-client-test-signing-key-rotation":            TestKeySetRotation,
		"oidcc-client-test-ignores-unparseable-key-in-jwks": TestKeySetSkipsUnparseableKeys,
	} {
		t.Run(module, test)
	}
}
