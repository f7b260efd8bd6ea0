package federation

import (
	"context"
	"crypto/subtle"
	"fmt"
	"html/template"
	"net"
	"net/http"
	"time"

	"github.com/oidcfed/oidcfed/internal/randid"
	"github.com/oidcfed/oidcfed/pkce"
	"github.com/oidcfed/oidcfed/session"
)

// LoopbackConfig configures [Provider.LoopbackLogin].
type LoopbackConfig struct {
	// Port is the loopback port to listen on; 0 picks a free one. The
	// redirect URI is http://127.0.0.1:<port>/callback: register it at the
	// provider, which should accept any port for a loopback IP (RFC 8252
	// §7.3); a provider that wants an exact URI gets a fixed port such as
	// 8301.
	Port int
	// Open is given the authorization URL: open the user's browser there,
	// or print it. Required.
	Open func(authURL string) error
	// Timeout bounds the wait for the browser. Default: 5 minutes.
	Timeout time.Duration
}

// LoopbackLogin signs a command-line user in with the authorization code
// flow on a loopback redirect (RFC 8252 §7.3): PKCE S256, state and nonce
// as in a browser sign-in, the callback served once on 127.0.0.1 and
// answered with a page that says the terminal can be used again. The
// listener is closed before LoopbackLogin returns.
//
// The sign-in's failures are *Error values, as at the browser callback;
// the listener's, cfg.Open's and ctx's own errors are returned wrapped
// (errors.Is(err, context.DeadlineExceeded) after Timeout).
func (p *Provider) LoopbackLogin(ctx context.Context, cfg LoopbackConfig) (*Result, error) {
	if cfg.Open == nil {
		return nil, newError(CodeInvalidRequest, "LoopbackConfig.Open is required", nil)
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 5 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", cfg.Port))
	if err != nil {
		return nil, fmt.Errorf("federation: loopback login: %w", err)
	}
	defer ln.Close()
	redirectURI := fmt.Sprintf("http://%s/callback", ln.Addr())
	f := &session.FlowState{Provider: p.key, State: randid.Short(), Nonce: randid.Short(), Verifier: pkce.NewVerifier(),
		Mode: session.SignIn, Created: p.reg.opts.now()}
	authURL, err := p.AuthCodeURL(ctx, f, redirectURI)
	if err != nil {
		return nil, err
	}

	type outcome struct {
		res *Result
		err error
	}
	done := make(chan outcome, 1)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /callback", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(f.State)) != 1 {
			// Not our redirect (a stale tab, another program): keep waiting.
			w.WriteHeader(http.StatusBadRequest)
			loopbackPage.Execute(w, "This sign-in link is not the one the command is waiting for.")
			return
		}
		res, err := p.completeRedirect(r.Context(), f, q, redirectURI)
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			loopbackPage.Execute(w, "Sign-in failed. Return to the terminal for details.")
		} else {
			loopbackPage.Execute(w, "Signed in. You can close this window and return to the terminal.")
		}
		select {
		case done <- outcome{res, err}:
		default: // the first answer counts
		}
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	defer func() {
		// Let the browser's page finish, briefly, then close.
		sctx, stop := context.WithTimeout(context.Background(), 2*time.Second)
		defer stop()
		srv.Shutdown(sctx)
	}()

	if err := cfg.Open(authURL); err != nil {
		return nil, fmt.Errorf("federation: opening the browser: %w", err)
	}
	select {
	case o := <-done:
		return o.res, o.err
	case <-ctx.Done():
		return nil, fmt.Errorf("federation: waiting for the browser to come back: %w", ctx.Err())
	}
}

var loopbackPage = template.Must(template.New("loopback").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign-in</title></head>
<body><p>{{.}}</p></body></html>`))
