package discovery

import (
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/oidcfed/oidcfed/internal/urlcheck"
)

// FuzzMetadata feeds arbitrary discovery documents to decoding and
// validation. A document that validates must name the configured issuer
// and only absolute https endpoints (http only on loopback, for a loopback
// issuer), and its accepted algorithms must be asymmetric.
func FuzzMetadata(f *testing.F) {
	seeds, _ := filepath.Glob("../testdata/discovery/*.json")
	if len(seeds) == 0 {
		f.Fatal("no seeds in ../testdata/discovery")
	}
	for _, s := range seeds {
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, "https://idp.example.com")
		f.Add(b, "idp.example.com")
		f.Add(b, "http://127.0.0.1:9000")
	}
	f.Fuzz(func(t *testing.T, doc []byte, issuer string) {
		iss, err := ParseIssuer(issuer)
		if err != nil {
			return
		}
		var md Metadata
		if json.Unmarshal(doc, &md) != nil {
			return
		}
		if err := md.validate(iss.DiscoveryURL(), iss, false); err != nil {
			return
		}
		if !iss.Matches(md.Issuer) {
			t.Fatalf("issuer %q validated for configured %q", md.Issuer, issuer)
		}
		for _, e := range []string{md.AuthorizationEndpoint, md.TokenEndpoint, md.JWKSURI, md.UserinfoEndpoint, md.EndSessionEndpoint} {
			if e == "" {
				continue
			}
			u, err := url.Parse(e)
			if err != nil || !u.IsAbs() || u.Host == "" || u.User != nil {
				t.Fatalf("endpoint %q validated", e)
			}
			if u.Scheme != "https" && !(u.Scheme == "http" && urlcheck.IsLoopbackURL(u) && iss.loopback()) {
				t.Fatalf("endpoint %q validated for issuer %q", e, issuer)
			}
		}
		for _, a := range md.Algorithms() {
			if a == "none" || a[0] == 'H' {
				t.Fatalf("algorithm %q accepted", a)
			}
		}
	})
}
