package federationtest_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/oidcfed/oidcfed/federation/federationtest"
)

// The test provider serves a real discovery document on a loopback port;
// point a relying party's issuer at op.Issuer().
func ExampleStart() {
	op, err := federationtest.Start(federationtest.Options{Algorithm: "ES256"})
	if err != nil {
		panic(err)
	}
	defer op.Close()
	op.AddUser(federationtest.User{Subject: "alice", Email: "alice@example.com", EmailVerified: true})
	op.AddClient(federationtest.Client{ID: "app", Secret: "s3cret", RedirectURIs: []string{"http://127.0.0.1:8080/cb"}})

	resp, err := http.Get(op.Issuer() + "/.well-known/openid-configuration")
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	var doc struct {
		Issuer string   `json:"issuer"`
		Algs   []string `json:"id_token_signing_alg_values_supported"`
		PKCE   []string `json:"code_challenge_methods_supported"`
	}
	json.NewDecoder(resp.Body).Decode(&doc)
	fmt.Println(doc.Issuer == op.Issuer(), strings.HasPrefix(doc.Issuer, "http://127.0.0.1:"), doc.Algs, doc.PKCE)
	// Output: true true [RS256 ES256 EdDSA] [S256]
}
