package auth

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/switchboard-dev/switchboard/runtime/inbox/problem"
)

// maxBody bounds a request body (bytes).
const maxBody = 64 << 10

// decode reads a JSON object into v, refusing unknown members and trailing data; on
// error it writes a 400 naming the member and returns false.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		problem.Respond(w, http.StatusUnsupportedMediaType, fmt.Sprintf("the body must be application/json, got %q", ct))
		return false
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil && dec.More() {
		err = errors.New("trailing data after the JSON object")
	}
	if err == nil {
		return true
	}
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &typeErr):
		problem.RespondField(w, http.StatusBadRequest, typeErr.Field, fmt.Sprintf("%s must be a JSON %s", typeErr.Field, typeErr.Type))
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		problem.RespondField(w, http.StatusBadRequest, field, fmt.Sprintf("unknown member %q", field))
	case errors.Is(err, io.EOF):
		problem.Respond(w, http.StatusBadRequest, "the body must be a JSON object, got nothing")
	default:
		problem.Respond(w, http.StatusBadRequest, "the body is not a valid JSON object: "+err.Error())
	}
	return false
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
