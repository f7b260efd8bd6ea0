package session_test

import (
	"fmt"
	"net/http/httptest"
	"time"

	"github.com/oidcfed/oidcfed/pkce"
	"github.com/oidcfed/oidcfed/session"
)

// The start route saves a flow into its own sealed cookie; the callback
// takes it back once, from the same browser.
func ExampleCookieStore() {
	store, err := session.NewCookieStore(session.CookieConfig{Keys: [][]byte{make([]byte, 32)}})
	if err != nil {
		panic(err)
	}
	flow := &session.FlowState{Provider: "oidc:acme", State: "st-0123456789abcdef", Nonce: "n-0123456789",
		Verifier: pkce.NewVerifier(), RedirectTo: "/app", Created: time.Now()}
	start := httptest.NewRecorder()
	if err := store.Save(start, httptest.NewRequest("GET", "/auth/oauth/oidc:acme", nil), flow); err != nil {
		panic(err)
	}
	callback := httptest.NewRequest("GET", "/auth/oauth/oidc:acme/callback?state="+flow.State, nil)
	callback.AddCookie(start.Result().Cookies()[0])
	got, err := store.Take(httptest.NewRecorder(), callback, flow.State)
	fmt.Println(got.RedirectTo, err)
	_, err = store.Take(httptest.NewRecorder(), callback, flow.State)
	fmt.Println(err)
	// Output:
	// /app <nil>
	// session: the sign-in was already completed
}
