package federation

import (
	"bufio"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/oidcfed/oidcfed/discovery"
)

// FuzzRedirectTo checks redirectTo validation against what a browser does
// with the value: every accepted value, resolved against the base URL the
// way a browser resolves a Location header (where "%2e" in a path is a
// dot, so "%2e%2e" is a parent segment), stays on the base origin or an
// allowed origin and path.
// browserDots reads an encoded dot as a browser's URL parser does.
var browserDots = strings.NewReplacer("%2e", ".", "%2E", ".")

func FuzzRedirectTo(f *testing.F) {
	file, err := os.Open("../testdata/redirects.txt")
	if err != nil {
		f.Fatal(err)
	}
	sc := bufio.NewScanner(file)
	for sc.Scan() {
		f.Add(sc.Text())
	}
	file.Close()
	reg, err := NewRegistry(Config{Providers: map[string]ProviderConfig{"acme": {Issuer: "https://idp.example.com", ClientID: "c", ClientSecret: "s"}},
		AllowedRedirects: []string{"http://localhost:3000/app"}})
	if err != nil {
		f.Fatal(err)
	}
	h := &Handler{cfg: HandlerConfig{Registry: reg}}
	h.base, _ = url.Parse("https://app.example.com")
	f.Fuzz(func(t *testing.T, s string) {
		got, err := h.checkRedirectTo(&Provider{}, s)
		if err != nil {
			return
		}
		if s != "" && got != s {
			t.Fatalf("accepted %q as %q", s, got)
		}
		if strings.ContainsAny(got, "\\\t\r\n") {
			t.Fatalf("accepted %q, which browsers rewrite", got)
		}
		u, err := url.Parse(browserDots.Replace(got))
		if err != nil {
			t.Fatalf("accepted %q, which is unparseable once %%2e is read as a dot", got)
		}
		dest := h.base.ResolveReference(u)
		origin := strings.ToLower(dest.Scheme + "://" + dest.Host)
		switch {
		case origin == "https://app.example.com":
		case origin == "http://localhost:3000" && (dest.EscapedPath() == "/app" || strings.HasPrefix(dest.EscapedPath(), "/app/")):
		default:
			t.Fatalf("accepted %q, which leads to %s", s, dest)
		}
	})
}

// FuzzParseJRD: a WebFinger answer never panics, and what it accepts is
// an issuer URL from an issuer link.
func FuzzParseJRD(f *testing.F) {
	for _, seed := range []string{
		`{"subject":"acct:a@b","links":[{"rel":"http://openid.net/specs/connect/1.0/issuer","href":"https://idp.example.com"}]}`,
		`{"links":[{"rel":"http://openid.net/specs/connect/1.0/issuer","href":"https://idp.example.com?x=1"}]}`,
		`{"links":[{"rel":"self","href":"https://idp.example.com"}]}`,
		`{"links":null}`, `[]`, `{"links":[{"rel":1}]}`, ``,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		iss, err := parseJRD(body)
		if err == nil {
			if _, perr := discovery.ParseIssuer(iss); perr != nil {
				t.Fatalf("accepted %q, not an issuer: %v", iss, perr)
			}
		}
	})
}
