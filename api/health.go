package api

import (
	"context"
	"log/slog"
	"net/http"
	"time"
)

// readyTimeout bounds the readiness check so a hung database fails it.
const readyTimeout = 3 * time.Second

func (s *server) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
	defer cancel()
	if err := s.cfg.Ready(ctx); err != nil {
		s.log.LogAttrs(r.Context(), s.notReadyLog.Level(), "not ready", slog.String("error", err.Error()))
		writeError(w, http.StatusServiceUnavailable, codeNotReady, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}
