package federation

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/oidcfed/oidcfed/discovery"
	"github.com/oidcfed/oidcfed/internal/randid"
	"github.com/oidcfed/oidcfed/session"
)

// Request objects by reference (RFC 9101 §5.2; OpenID Connect Core 1.0
// §6.2): requestUri puts the request object in the registry's value store
// under an unguessable ID and sends the provider its URL,
// {mount}/oidc:{name}/request/{id}, which answers once. The store holds
// the object under the SHA-256 of the ID, never the ID itself, so that
// reading the store does not give a URL to fetch.

// ErrRequestURI: requestUri is set and the provider does not take a
// request_uri it has not registered (require_request_uri_registration),
// or says it takes none (request_uri_parameter_supported false).
var ErrRequestURI = errors.New("federation: the provider does not take request objects by reference (request_uri)")

// requestURIPath is the route's action under oidc:{name}.
const requestURIPath = "request"

// requestURIKey is the value store key of a served request object's ID.
func requestURIKey(key, id string) string {
	sum := sha256.Sum256([]byte(id))
	return "requri:" + key + ":" + hex.EncodeToString(sum[:])
}

// serveRequestObject keeps obj for one fetch and returns its URL.
func (p *Provider) serveRequestObject(ctx context.Context, md *discovery.Metadata, obj string) (string, error) {
	if err := p.checkRequestURI(md); err != nil {
		return "", newError(CodeProviderUnavailable, "the identity provider is misconfigured", err)
	}
	h := p.reg.handler.Load()
	if h == nil {
		return "", newError(CodeServerError, "the sign-in could not be started", ErrNoHandler)
	}
	id := randid.New() // 256 bits
	expires := p.reg.opts.now().Add(requestObjectLifetime)
	if err := p.reg.values.store.Put(ctx, requestURIKey(p.key, id), []byte(obj), expires); err != nil {
		code := CodeServerError
		if errors.Is(err, session.ErrUnavailable) || errors.Is(err, session.ErrValuesFull) {
			code = CodeTemporarilyUnavailable
		}
		return "", newError(code, "the sign-in could not be started", fmt.Errorf("request_uri: %w", err))
	}
	return h.base.String() + h.mount + p.key + "/" + requestURIPath + "/" + id, nil
}

// serveRequestURI answers GET oidc:{name}/request/{id}: the request
// object, once (application/oauth-authz-req+jwt), else 404; a HEAD
// answers without consuming it.
func (h *Handler) serveRequestURI(w http.ResponseWriter, r *http.Request, key, id string) {
	if !getOnly(w, r, writeJSONError) {
		return
	}
	p, ok := h.lookup(w, r, key)
	if !ok {
		return
	}
	if id == "" || len(id) > 64 || strings.ContainsAny(id, "/.") {
		writeJSONError(w, http.StatusNotFound, CodeNotFound, "no such request object")
		return
	}
	take := p.reg.values.store.Take
	if r.Method == http.MethodHead {
		take = p.reg.values.store.Get // a HEAD does not consume it
	}
	obj, err := take(r.Context(), requestURIKey(p.key, id))
	switch {
	case errors.Is(err, session.ErrNoValue):
		writeJSONError(w, http.StatusNotFound, CodeNotFound, "no such request object: each is served once")
		return
	case err != nil:
		h.log.Warn("federation: a request object could not be read", "provider", key, "error", err)
		writeJSONError(w, http.StatusServiceUnavailable, CodeTemporarilyUnavailable, "try again")
		return
	}
	w.Header().Set("Content-Type", "application/oauth-authz-req+jwt")
	w.Write(obj)
}

// checkRequestURI refuses requestUri at a provider that would not fetch it.
func (p *Provider) checkRequestURI(md *discovery.Metadata) error {
	switch {
	case !p.cfg.RequestURI:
		return nil
	case md.RequirePushedAuthorizationRequests:
		return fmt.Errorf("%w: provider %s requires pushed authorization requests; turn requestUri off", ErrRequestURI,
			p.key)
	case md.RequireRequestURIRegistration:
		return fmt.Errorf("%w: provider %s requires request_uri registration", ErrRequestURI, p.key)
	case md.RequestURIParameterSupported != nil && !*md.RequestURIParameterSupported:
		return fmt.Errorf("%w: provider %s says request_uri_parameter_supported false", ErrRequestURI, p.key)
	}
	return nil
}
