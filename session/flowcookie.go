package session

import (
	"net/http"
	"slices"
	"strings"
	"time"
)

// flowCookies are the cookie rules both stores share: one cookie per flow,
// named after its state, at most MaxPendingFlows per browser.
type flowCookies struct{ secure bool }

// MaxPendingFlows is how many flows one browser may have pending at once,
// the one being started included. Each pending flow is a cookie; a page
// that starts sign-ins in a loop would otherwise pile up cookies until the
// browser evicts the application's own session cookie or the Cookie
// header outgrows a server's limit (431). Save expires the oldest beyond
// the cap, so five parallel tabs still all complete.
const MaxPendingFlows = 5

// isFlowCookie reports whether name is a flow cookie of either kind.
func isFlowCookie(name string) bool {
	return strings.HasPrefix(name, "oidcfed-") || strings.HasPrefix(name, "__Host-oidcfed-")
}

// pendingCookie is one of a request's flow cookies, as capFlows sorts them.
type pendingCookie struct {
	name     string
	created  time.Time
	readable bool
}

// capFlows expires the request's oldest flow cookies so that, with the
// one being saved, at most MaxPendingFlows remain: unreadable ones first,
// then by their flow's creation time. created opens a cookie; it reports
// false for one it cannot read. It returns the names it expired.
func (c flowCookies) capFlows(w http.ResponseWriter, r *http.Request,
	created func(name, value string) (time.Time, bool)) []string {
	if r == nil { // a flow saved outside a request (tests, tools)
		return nil
	}
	var pending []pendingCookie
	seen := map[string]bool{}
	for _, ck := range r.Cookies() {
		if !isFlowCookie(ck.Name) || seen[ck.Name] {
			continue
		}
		seen[ck.Name] = true
		t, ok := created(ck.Name, ck.Value)
		pending = append(pending, pendingCookie{name: ck.Name, created: t, readable: ok})
	}
	over := len(pending) - (MaxPendingFlows - 1)
	if over <= 0 {
		return nil
	}
	slices.SortFunc(pending, func(a, b pendingCookie) int {
		switch {
		case a.readable != b.readable:
			if !a.readable {
				return -1
			}
			return 1
		case !a.created.Equal(b.created):
			return a.created.Compare(b.created)
		}
		return strings.Compare(a.name, b.name)
	})
	expired := make([]string, over)
	for i, p := range pending[:over] {
		del := c.cookie(p.name, "", -1)
		del.Secure = del.Secure || strings.HasPrefix(p.name, "__Host-") // or the browser ignores it
		http.SetCookie(w, del)
		expired[i] = p.name
	}
	return expired
}

// name is the cookie name of the flow of state.
func (c flowCookies) name(state string) string {
	if c.secure {
		return "__Host-oidcfed-" + state
	}
	return "oidcfed-" + state
}

// cookie is a flow cookie: host-only, HttpOnly, SameSite=Lax, Secure on https.
func (c flowCookies) cookie(name, value string, maxAge int) *http.Cookie {
	return &http.Cookie{Name: name, Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: c.secure, SameSite: http.SameSiteLaxMode}
}

// flowCookie is f's cookie: a form_post flow's is SameSite=None and
// Secure, so that the provider's cross-site POST carries it.
func (c flowCookies) flowCookie(f *FlowState, name, value string, maxAge int) *http.Cookie {
	ck := c.cookie(name, value, maxAge)
	if f.FormPost {
		ck.SameSite, ck.Secure = http.SameSiteNoneMode, true
	}
	return ck
}

// take finds the flow cookie of state in r and deletes it from the
// browser, whatever the flow turns out to be: a flow is tried once.
func (c flowCookies) take(w http.ResponseWriter, r *http.Request, state string) (name, value string, err error) {
	if !validState(state) {
		return "", "", ErrNoFlow
	}
	name = c.name(state)
	ck, err := r.Cookie(name)
	if err != nil {
		return "", "", ErrNoFlow
	}
	del := c.cookie(name, "", -1)
	if r.Method == http.MethodPost { // a form_post callback: its cookie is Secure
		del.SameSite, del.Secure = http.SameSiteNoneMode, true
	}
	http.SetCookie(w, del)
	return name, ck.Value, nil
}

// validState reports whether state can be part of a cookie name: the
// base64url values the library generates, of a sane length.
func validState(state string) bool {
	if len(state) < 16 || len(state) > 64 {
		return false
	}
	for i := 0; i < len(state); i++ {
		c := state[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
