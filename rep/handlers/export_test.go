package handlers

import (
	"log/slog"
	"net/http"
)

// StopLRPInstanceHandler is the stop handler alone, for a request the
// router would never route (a missing param).
func StopLRPInstanceHandler(logger *slog.Logger, executor ExecutorClient) http.Handler {
	return &stopLRPHandler{Deps{Logger: logger, Executor: executor}}
}
