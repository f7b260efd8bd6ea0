package federation_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/oidcfed/oidcfed/federation"
)

// logoutStateRP is a relying party with GET /logout calling
// Handler.Logout, its post-logout landing registered at the provider.
func logoutStateRP(t *testing.T) *rp {
	t.Helper()
	return newRPWith(t, rpOptions{routes: func(mux *http.ServeMux, h *federation.Handler) {
		mux.HandleFunc("GET /logout", func(w http.ResponseWriter, r *http.Request) {
			u, err := h.Logout(r.Context(), w, "oidc:acme", federation.LogoutRequest{PostLogoutRedirectURI: "/bye"})
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			http.Redirect(w, r, u, http.StatusSeeOther)
		})
	}})
}

// TestLogoutState: Handler.Logout's state comes back from the provider
// and the browser lands at the destination.
func TestLogoutState(t *testing.T) {
	{
		r := logoutStateRP(t)
		b := newBrowser(t)
		resp := b.get(r.srv.URL+"/logout", func(next *url.URL) bool { return next.Path == "/bye" })
		if resp.Header.Get("Location") != "/bye" {
			t.Fatalf("ended at %q after %v", resp.Header.Get("Location"), b.seen)
		}
		end, _ := url.Parse(b.seen[1])
		if !strings.HasPrefix(b.seen[1], r.op.Issuer()+"/end_session?") || len(end.Query().Get("state")) < 16 ||
			end.Query().Get("post_logout_redirect_uri") != r.srv.URL+"/auth/oauth/logged-out" {
			t.Fatalf("end_session request %s", b.seen[1])
		}
	}
}

// logoutStateRefused starts a Handler.Logout, then comes back to the
// logged-out route with state (none when empty) instead of the one sent:
// 400 invalid_state, no redirect (TestConformance's
// oidcc-client-test-rp-init-logout-no-state and -other-state).
func logoutStateRefused(t *testing.T, state string) {
	r := logoutStateRP(t)
	b := newBrowser(t)
	b.get(r.srv.URL+"/logout", func(next *url.URL) bool { return strings.HasPrefix(next.String(), r.op.Issuer()) })
	back := r.srv.URL + "/auth/oauth/logged-out"
	if state != "" {
		back += "?state=" + state
	}
	resp := b.get(back, nil)
	if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" ||
		r.errs.count(federation.ErrLogoutState) == 0 {
		t.Fatalf("answered %d to %q, want 400 invalid_state with ErrLogoutState logged", resp.StatusCode,
			resp.Header.Get("Location"))
	}
}
