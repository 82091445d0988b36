package auth

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/switchboard-dev/switchboard/runtime/inbox/httpapi"
	"github.com/switchboard-dev/switchboard/runtime/inbox/problem"
)

// maxBody bounds a request body (bytes).
const maxBody = 64 << 10

// decode reads a JSON object of at most maxBody bytes into v (httpapi.DecodeLimit:
// unknown members and trailing data refused, text PostgreSQL can store); on error it
// writes the problem (400 naming the member, 413, 415) and returns false.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	err := httpapi.DecodeLimit(r, v, maxBody)
	var p problem.Problem
	if errors.As(err, &p) {
		problem.Write(w, p)
		return false
	}
	return err == nil
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// dbError answers 503 for a database failure and logs it (the error never holds a
// secret: statements carry only hashes and names).
func (s *Service) dbError(w http.ResponseWriter, what string, err error) {
	s.cfg.Log.Error(what+" failed", "error", err)
	problem.Respond(w, http.StatusServiceUnavailable, "the database is unavailable, retry later")
}
