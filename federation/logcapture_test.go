package federation_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
)

// errorLog is a slog.Handler that keeps the error values logged (any
// attribute whose value is an error) besides writing every record to next,
// so that a test can assert the cause of a refusal with errors.Is instead
// of searching the log's text.
type errorLog struct {
	next slog.Handler
	errs *loggedErrors
}

type loggedErrors struct {
	mu   sync.Mutex
	errs []error
}

func (h errorLog) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

func (h errorLog) Handle(ctx context.Context, rec slog.Record) error {
	rec.Attrs(func(a slog.Attr) bool {
		if err, ok := a.Value.Any().(error); ok {
			h.errs.mu.Lock()
			h.errs.errs = append(h.errs.errs, err)
			h.errs.mu.Unlock()
		}
		return true
	})
	return h.next.Handle(ctx, rec)
}

func (h errorLog) WithAttrs(as []slog.Attr) slog.Handler {
	return errorLog{next: h.next.WithAttrs(as), errs: h.errs}
}

func (h errorLog) WithGroup(name string) slog.Handler {
	return errorLog{next: h.next.WithGroup(name), errs: h.errs}
}

// loggedCount is how many logged errors match cause: by errors.Is, or, for
// an errString (a cause that has no sentinel), by its text.
func (l *loggedErrors) count(cause error) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, err := range l.errs {
		if s, ok := cause.(errString); ok && strings.Contains(err.Error(), string(s)) || errors.Is(err, cause) {
			n++
		}
	}
	return n
}
