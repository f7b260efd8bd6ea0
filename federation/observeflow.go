package federation

import (
	"context"
	"net/http"
	"time"
)

// flowWriter is the response writer of a flow route while an observer
// wants Flow events: the handler notes on it the mode, the code it
// answered and, at a successful callback, the outcome.
type flowWriter struct {
	http.ResponseWriter
	began   time.Time
	mode    Mode
	code    Code
	outcome Outcome
	subject string
}

// Unwrap lets http.ResponseController reach the host's writer.
func (w *flowWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// reportFlow sends the route's FlowEvent. A key that names no provider
// is reported as "": it came from the request.
func (h *Handler) reportFlow(ctx context.Context, obs *Observer, w *flowWriter, rt route, key string) {
	e := FlowEvent{Mode: w.mode, Phase: PhaseStart, Code: w.code, Outcome: w.outcome, Duration: time.Since(w.began)}
	if rt == routeCallback || rt == routeLinkCallback {
		e.Phase = PhaseCallback
	}
	if _, ok := h.cfg.Registry.Lookup(key); ok {
		e.Provider = key
	}
	if obs.Subjects && w.code == "" {
		e.Subject = w.subject
	}
	obs.Flow(ctx, e)
}
