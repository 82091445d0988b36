package simulator

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// The media endpoints, as Meta's "Media" reference describes them:
//
//	POST   /{version}/{phone-number-id}/media  multipart: messaging_product, type, file → {"id"}
//	GET    /{version}/{media-id}[?phone_number_id=]  → {url, mime_type, sha256 (hex), file_size, id, messaging_product}
//	DELETE /{version}/{media-id}[?phone_number_id=]  → {"success": true}
//	GET    /whatsapp_business/attachments/?mid=&ext=&hash=  the bytes, with the bearer token
//
// A download URL expires Config.Media.URLTTL after the GET that made it (5 minutes by
// default, as Meta documents); after that, or without the number's token, the download
// fails and a fresh GET /{media-id} is needed.
const attachmentsPath = "/whatsapp_business/attachments/"

func (s *Server) mediaRoutes() {
	s.mux.HandleFunc("POST /{version}/{pnid}/media", s.withFaults(s.handleUpload))
	s.mux.HandleFunc("DELETE /{version}/{pnid}", s.handleMediaDelete)
	s.mux.HandleFunc("GET "+attachmentsPath+"{$}", s.handleDownload)
	s.mux.HandleFunc("POST /_sim/media/{id}/corrupt", func(w http.ResponseWriter, r *http.Request) {
		if err := s.CorruptMedia(r.PathValue("id")); err != nil {
			ctlError(w, http.StatusNotFound, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
	})
}

// isMedia reports whether the node ID in r's path is a media object.
func (s *Server) isMedia(r *http.Request) bool {
	_, ok := s.media.get(r.PathValue("pnid"))
	return ok
}

// numberToken is the access token a number's requests must carry ("" accepts any).
func (s *Server) numberToken(numberID string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st, ok := s.numbers[numberID]; ok {
		return orStr(st.AccessToken, s.cfg.AccessToken)
	}
	return s.cfg.AccessToken
}

// authorizeMedia checks the version, the bearer token, the media ID and the optional
// phone_number_id filter, in Graph's order.
func (s *Server) authorizeMedia(r *http.Request, method string) (*mediaObject, *graphError) {
	id := r.PathValue("pnid")
	if !versionPattern.MatchString(r.PathValue("version")) {
		return nil, errUnknownPath(r.URL.Path)
	}
	token, ok := bearer(r)
	if !ok {
		return nil, errNoToken()
	}
	o, found := s.media.get(id)
	if !found {
		return nil, errUnknownObject(method, id)
	}
	if want := s.numberToken(o.numberID); want != "" && token != want {
		return nil, errBadToken()
	}
	if p := r.URL.Query().Get("phone_number_id"); p != "" && p != o.numberID {
		return nil, errUnknownObject(method, id)
	}
	return o, nil
}

func bearer(r *http.Request) (string, bool) {
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return token, ok && strings.TrimSpace(token) != ""
}

// handleMediaGet answers GET /{version}/{media-id} with a fresh download URL.
func (s *Server) handleMediaGet(w http.ResponseWriter, r *http.Request) {
	s.graphHeaders(w, r.PathValue("version"))
	o, gerr := s.authorizeMedia(r, "get")
	if gerr != nil {
		s.writeGraphError(w, gerr)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"url": s.downloadURL(r, o.id), "mime_type": o.mimeType, "sha256": hex.EncodeToString(o.sum[:]),
		"file_size": strconv.Itoa(len(o.data)), "id": o.id, "messaging_product": "whatsapp"})
}

// downloadURL is a signed URL on the host the request came to, expiring URLTTL from now.
func (s *Server) downloadURL(r *http.Request, id string) string {
	ext := s.clock.Now().Add(s.cfg.Media.URLTTL).Unix()
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	q := url.Values{"mid": {id}, "ext": {strconv.FormatInt(ext, 10)}, "hash": {s.media.signature(id, ext)}}
	return scheme + "://" + r.Host + attachmentsPath + "?" + q.Encode()
}

// handleDownload serves the bytes of a download URL: 401 without the owning number's
// token, 404 for an unknown, deleted, tampered or expired URL.
func (s *Server) handleDownload(w http.ResponseWriter, r *http.Request) {
	o, status, msg := s.checkDownload(r)
	if status != http.StatusOK {
		http.Error(w, msg, status)
		return
	}
	body := s.media.body(o)
	w.Header().Set("Content-Type", o.mimeType)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	_, _ = w.Write(body)
}

func (s *Server) checkDownload(r *http.Request) (*mediaObject, int, string) {
	token, ok := bearer(r)
	if !ok {
		return nil, http.StatusUnauthorized, "an access token is required"
	}
	q := r.URL.Query()
	id := q.Get("mid")
	ext, err := strconv.ParseInt(q.Get("ext"), 10, 64)
	o, found := s.media.get(id)
	if err != nil || !found || q.Get("hash") != s.media.signature(id, ext) {
		return nil, http.StatusNotFound, "media not found"
	}
	if want := s.numberToken(o.numberID); want != "" && token != want {
		return nil, http.StatusUnauthorized, "invalid access token"
	}
	if s.clock.Now().Unix() >= ext {
		return nil, http.StatusNotFound, "URL signature expired"
	}
	return o, http.StatusOK, ""
}

// handleMediaDelete serves DELETE /{version}/{media-id}.
func (s *Server) handleMediaDelete(w http.ResponseWriter, r *http.Request) {
	s.graphHeaders(w, r.PathValue("version"))
	o, gerr := s.authorizeMedia(r, "delete")
	if gerr != nil {
		s.writeGraphError(w, gerr)
		return
	}
	s.media.remove(o.id)
	writeJSON(w, http.StatusOK, map[string]bool{"success": true})
}

// handleUpload serves POST /{version}/{phone-number-id}/media (multipart/form-data with
// messaging_product, type and file), answering {"id": media-id}.
func (s *Server) handleUpload(w http.ResponseWriter, r *http.Request) {
	s.graphHeaders(w, r.PathValue("version"))
	id, gerr := s.upload(w, r)
	if gerr != nil {
		s.writeGraphError(w, gerr)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"id": id})
}

func (s *Server) upload(w http.ResponseWriter, r *http.Request) (string, *graphError) {
	st, gerr := s.authorize(r, "post")
	if gerr != nil {
		return "", gerr
	}
	r.Body = http.MaxBytesReader(w, r.Body, s.cfg.Media.MaxUploadBytes+1<<20)
	if err := r.ParseMultipartForm(8 << 20); err != nil {
		return "", errParam("Request body must be multipart/form-data: " + err.Error())
	}
	mimeType, gerr := uploadFields(r)
	if gerr != nil {
		return "", gerr
	}
	data, gerr := s.uploadFile(r)
	if gerr != nil {
		return "", gerr
	}
	return s.storeUpload(st.ID, mimeType, data), nil
}

// storeUpload keeps an uploaded file under a new media ID owned by numberID.
func (s *Server) storeUpload(numberID, mimeType string, data []byte) string {
	s.mu.Lock()
	s.seq++
	id := s.rnd.digits("upload", s.seq, 16)
	s.mu.Unlock()
	s.media.put(&mediaObject{id: id, numberID: numberID, mimeType: mimeType, data: data})
	return id
}

// uploadFields checks messaging_product and type and returns the MIME type.
func uploadFields(r *http.Request) (string, *graphError) {
	switch mp := r.FormValue("messaging_product"); mp {
	case "":
		return "", errRequired("messaging_product")
	case "whatsapp":
	default:
		return "", errParam(fmt.Sprintf("Param messaging_product must be whatsapp, not %q", mp))
	}
	t := r.FormValue("type")
	if t == "" {
		return "", errRequired("type")
	}
	base, _, err := mime.ParseMediaType(t)
	if err != nil || !uploadTypes[base] {
		return "", errParam(fmt.Sprintf("Param type %q is not a supported media type", t))
	}
	return t, nil
}

func (s *Server) uploadFile(r *http.Request) ([]byte, *graphError) {
	f, _, err := r.FormFile("file")
	if err != nil {
		return nil, errRequired("file")
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, s.cfg.Media.MaxUploadBytes+1))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) || int64(len(data)) > s.cfg.Media.MaxUploadBytes {
		return nil, errParam(fmt.Sprintf("Param file is larger than %d bytes", s.cfg.Media.MaxUploadBytes))
	}
	if err != nil || len(data) == 0 {
		return nil, errParam("Param file is empty or unreadable")
	}
	return data, nil
}

// uploadTypes are the MIME types Meta's "Supported media types" table lists.
var uploadTypes = map[string]bool{
	"audio/aac": true, "audio/amr": true, "audio/mpeg": true, "audio/mp4": true, "audio/ogg": true,
	"text/plain": true, "application/pdf": true, "application/msword": true, "application/vnd.ms-excel": true,
	"application/vnd.ms-powerpoint":                                             true,
	"application/vnd.openxmlformats-officedocument.wordprocessingml.document":   true,
	"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet":         true,
	"application/vnd.openxmlformats-officedocument.presentationml.presentation": true,
	"image/jpeg": true, "image/png": true, "image/webp": true, "video/3gpp": true, "video/mp4": true,
}
