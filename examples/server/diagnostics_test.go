package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/oidcfed/oidcfed/federation/federationtest"
)

func TestCheckFlag(t *testing.T) {
	t.Run("the demo provider passes", func(t *testing.T) {
		cmd := exec.Command(binary, "-check")
		cmd.Env = append(os.Environ(), "OIDCFED_ADDR=127.0.0.1:0")
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("exit: %v\n%s", err, out)
		}
		if !strings.Contains(string(out), "oidc:demo (http://localhost:") || !strings.Contains(string(out), "): ok\n") ||
			!strings.Contains(string(out), "ok   jwks") || strings.Contains(string(out), "fail") {
			t.Fatalf("report:\n%s", out)
		}
	})
	t.Run("a broken provider fails the check", func(t *testing.T) {
		op := federationtest.New(t, federationtest.Options{})
		good := `"good": {"issuer": "` + op.Issuer() + `", "clientId": "c", "clientSecret": "s"}`
		broken := `"broken": {"issuer": "` + op.Issuer() + `", "clientId": "c", "clientSecret": "s", "tokenEndpointAuthMethod": "client_secret_post"}`
		path := writeConfig(t, `{"providers": {`+good+`, `+broken+`}}`)
		cmd := exec.Command(binary, "-check")
		cmd.Env = append(os.Environ(), "OIDCFED_ADDR=127.0.0.1:0", "OIDCFED_CONFIG="+path)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
			t.Fatalf("exit: %v\n%s", err, out)
		}
		if !strings.Contains(string(out), "oidc:broken ("+op.Issuer()+"): PROBLEMS") || !strings.Contains(string(out), "oidc:good ("+op.Issuer()+"): ok") ||
			!strings.Contains(string(out), `fail token_endpoint_auth`) || !strings.Contains(stderr.String(), "some providers have problems") {
			t.Fatalf("report:\n%s\nstderr:\n%s", out, stderr.String())
		}
		if strings.Contains(string(out)+stderr.String(), "listening on") {
			t.Fatal("-check listened")
		}
	})
}

func TestStatusRoute(t *testing.T) {
	s := start(t)
	b := newBrowser(t)
	// A sign-in makes the registry fetch discovery and keys.
	demoSignIn(t, s, b, "ada")
	resp, body := b.do("GET", s.base+"/auth/oauth/status", nil)
	if resp.StatusCode != 200 || resp.Header.Get("Cache-Control") != "no-store" || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("status: %d %v", resp.StatusCode, resp.Header)
	}
	var st struct {
		Providers []struct {
			Provider, Issuer, DiscoveryURL string
			Discovery                      struct{ FetchedAt, ExpiresAt string }
			Keys                           *struct {
				URI      string
				KeyCount int
				KeyIDs   []string
			}
		}
	}
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatal(err)
	}
	if len(st.Providers) != 1 || st.Providers[0].Provider != "oidc:demo" || st.Providers[0].Discovery.FetchedAt == "" {
		t.Fatalf("status %s", body)
	}
	if k := st.Providers[0].Keys; k == nil || k.KeyCount != 1 || len(k.KeyIDs) != 1 || !strings.HasSuffix(k.URI, "/jwks") {
		t.Fatalf("keys %+v", k)
	}
	if strings.Contains(strings.ToLower(body), "secret") {
		t.Fatalf("the status mentions a secret: %s", body)
	}
}
