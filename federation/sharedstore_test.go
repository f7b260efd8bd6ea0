package federation_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/oidcfed/oidcfed/federation"
	"github.com/oidcfed/oidcfed/session"
)

// downGuard is a shared replay guard that cannot be reached.
type downGuard struct{}

var errDown = errors.New("dial tcp 127.0.0.1:6379: connection refused")

func (downGuard) Claim(context.Context, string, time.Time) error { return errDown }
func (downGuard) Release(context.Context, string) error          { return errDown }

// downFlows is a flow store whose Save cannot reach its backend.
type downFlows struct{ session.FlowStore }

func (downFlows) Save(http.ResponseWriter, *http.Request, *session.FlowState) error {
	return fmt.Errorf("%w: %w", session.ErrUnavailable, errDown)
}

func TestUnreachableFlowStoreAnswers503(t *testing.T) {
	store, _ := session.NewCookieStore(session.CookieConfig{Keys: [][]byte{bytes.Repeat([]byte{7}, 32)},
		Replay: downGuard{}})
	r := newRPWith(t, rpOptions{flows: store})
	resp := r.signIn(newBrowser(t), "/next")
	if resp.StatusCode != http.StatusServiceUnavailable || r.loginCount() != 0 {
		t.Fatalf("callback with an unreachable replay guard answered %d (%d logins), want 503", resp.StatusCode,
			r.loginCount())
	}
	if n := r.errs.count(errDown); n == 0 || r.errs.count(session.ErrUnavailable) == 0 {
		t.Fatalf("the guard's failure was not logged as session.ErrUnavailable:\n%s", r.logs)
	}

	r = newRPWith(t, rpOptions{flows: downFlows{store}})
	if code, e := status(t, r.srv.URL+"/auth/oauth/oidc:acme"); code != http.StatusServiceUnavailable ||
		e != "temporarily_unavailable" {
		t.Fatalf("start with an unreachable flow store answered %d %q, want 503 temporarily_unavailable", code, e)
	}
}

func TestUnreachableLogoutGuardRefusesTheLogout(t *testing.T) {
	var ended int
	r := newRPWith(t, rpOptions{opts: []federation.Option{federation.WithReplayGuard(downGuard{})},
		onLogout: func(context.Context, federation.LogoutEvent) error { ended++; return nil }})
	code, err := r.op.SendLogoutToken("client-1", r.op.LogoutToken("client-1", "alice", "sid-1", nil))
	if err != nil {
		t.Fatal(err)
	}
	if code != http.StatusBadRequest || ended != 0 || r.errs.count(session.ErrUnavailable) == 0 {
		t.Fatalf("logout with an unreachable guard answered %d and ended %d sessions, want 400 and none", code, ended)
	}
}
