package agentapi

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"time"
	"unicode"

	"github.com/jackc/pgx/v5"

	"github.com/switchboard-dev/switchboard/runtime/inbox/conversation"
	"github.com/switchboard-dev/switchboard/runtime/inbox/httpapi"
	"github.com/switchboard-dev/switchboard/runtime/inbox/idempotency"
	"github.com/switchboard-dev/switchboard/runtime/inbox/kube"
	"github.com/switchboard-dev/switchboard/runtime/inbox/media"
	"github.com/switchboard-dev/switchboard/runtime/inbox/media/archive"
	"github.com/switchboard-dev/switchboard/runtime/inbox/problem"
	"github.com/switchboard-dev/switchboard/runtime/store"
	"github.com/switchboard-dev/switchboard/runtime/whatsapp"
)

// Limits of a media request (Meta's: a caption of 1,024 characters; the largest media,
// a document, 100 MB).
const (
	MaxCaptionLength  = 1024
	MaxFilenameLength = 240
	// maxMediaRequest bounds the request body: the largest file and its form fields.
	maxMediaRequest = media.MaxDocumentBytes + 1<<20
	// formMemory is how much of the form is held in memory; a larger file is spooled to
	// a temporary file (mime/multipart), removed when the request ends.
	formMemory = 1 << 20
)

// upload is a media request's form: the file (spooled), what it is (detected from its
// content), its SHA-256 and size, the caption and the document's file name.
type upload struct {
	media.Upload
	file     multipart.File
	sha256   string
	size     int64
	caption  string
	filename string
}

// sendMedia sends a file in the conversation (POST /api/v1/conversations/{id}/media,
// multipart/form-data: file, optional caption and filename; optional Idempotency-Key
// header, runtime/inbox/idempotency: its fingerprint is the file's SHA-256 and the form's
// fields). Without a media archive it answers 404 for a conversation the caller may not
// see, else 503. The checks that need nothing from Meta come first (the form, the file's type
// and size, the conversation, the Outbound KeywordRules on the caption, the window); then
// the file is stored in the archive, uploaded to Meta with the Number's token, and the
// message, its outbox row, its media row and the audit entry are written in one
// transaction. A failure after the file was stored removes it (and Meta's copy), so
// nothing is left half-written.
func (a *API) sendMedia(w http.ResponseWriter, r *http.Request) {
	id, err := httpapi.PathID(r, "id")
	if err != nil {
		a.fail(w, err)
		return
	}
	if a.cfg.Media == nil {
		// A conversation the caller may not see is 404 first, as with an archive.
		err := a.cfg.Store.ReadTx(r.Context(), func(tx pgx.Tx) error {
			_, err := conversation.Get(r.Context(), tx, a.viewer(r), id, false)
			return err
		})
		if err == nil {
			err = problem.New(http.StatusServiceUnavailable,
				"this Inbox has no media archive (spec.media, or --media-dir in dev mode): media cannot be sent")
		}
		a.fail(w, err)
		return
	}
	up, err := readUpload(w, r)
	if r.MultipartForm != nil {
		defer func() { _ = r.MultipartForm.RemoveAll() }()
	}
	if err != nil {
		a.fail(w, err)
		return
	}
	vw := a.viewer(r)
	// The request's content: the file by its hash and the form's fields (a retry's
	// multipart boundary differs).
	once, err := a.once(r, map[string]string{"sha256": up.sha256, "caption": up.caption, "filename": up.filename})
	if err != nil {
		a.fail(w, err)
		return
	}
	var conv conversation.View
	var prev *idempotency.Response
	err = a.cfg.Store.ReadTx(r.Context(), func(tx pgx.Tx) (err error) {
		if conv, err = conversation.Get(r.Context(), tx, vw, id, false); err != nil {
			return err
		}
		prev, err = idempotency.Lookup(r.Context(), tx, once, a.cfg.Now())
		return err
	})
	if err != nil || prev != nil {
		a.replayOr(w, prev, err)
		return
	}
	num, err := a.number(conv.Number)
	if err != nil {
		a.fail(w, err)
		return
	}
	out := mediaOutbound(up, "", vw.Actor)
	if b := num.Policy.OutboundRules.Check(out.Payload, a.cfg.Now()); b != nil {
		_, field, _ := strings.Cut(b.Field, ".")
		p := problem.Field(http.StatusUnprocessableEntity, field, b.Error())
		p.Rule, p.Word = b.Rule, b.Keyword
		a.fail(w, p)
		return
	}
	err = a.cfg.Store.ReadTx(r.Context(), func(tx pgx.Tx) error {
		return conversation.CheckFreeForm(r.Context(), tx, store.NumberRef{Namespace: vw.Namespace, Name: conv.Number}, conv.WAID, a.cfg.Now())
	})
	if errors.Is(err, conversation.ErrWindowClosed) {
		a.windowClosed(w, r, num)
		return
	}
	if err != nil {
		a.fail(w, err)
		return
	}
	a.storeAndSend(w, r, vw, num, id, up, once)
}

// storeAndSend stores the file, uploads it to Meta and records the message; see sendMedia.
func (a *API) storeAndSend(w http.ResponseWriter, r *http.Request, vw conversation.Viewer, num kube.Number, id int64, up upload,
	once idempotency.Request) {
	ctx := r.Context()
	objKey, err := media.NewOutboundKey(vw.Namespace, num.Ref.Name)
	if err == nil {
		err = rewind(up.file)
	}
	var obj media.Object
	if err == nil {
		obj, err = a.cfg.Media.Put(ctx, objKey, up.file, media.Expect{SHA256: up.sha256, Size: up.size, MimeType: up.MimeType})
	}
	if err != nil {
		a.cfg.Log.Error("storing outbound media", "number", num.Ref.String(), "error", err)
		a.fail(w, problem.New(http.StatusServiceUnavailable, "the media archive is unavailable, retry later: nothing was sent"))
		return
	}
	client, err := whatsapp.New(whatsapp.Options{BaseURL: num.APIBaseURL, APIVersion: num.APIVersion, AccessToken: num.AccessToken})
	var mediaID string
	if err == nil {
		if err = rewind(up.file); err == nil {
			mediaID, err = client.UploadMedia(ctx, num.PhoneNumberID, up.MimeType, up.filename, up.file)
		}
	}
	if err != nil {
		a.discard(objKey, nil, "")
		a.cfg.Log.Warn("uploading media to the Graph API", "number", num.Ref.String(), "error", err)
		a.fail(w, uploadProblem(err))
		return
	}
	out := mediaOutbound(up, mediaID, vw.Actor)
	// A concurrent request with the same key that committed first makes this one a
	// replay: its file and upload are removed.
	resp, replayed, err := idempotency.Run(ctx, a.cfg.Store.InTx, once, a.cfg.Now(), http.StatusCreated, func(tx pgx.Tx) (any, error) {
		return a.enqueue(r, tx, vw, id, out, true, func(m *conversation.Message) (map[string]any, error) {
			row, err := archive.RecordOutbound(ctx, tx, archive.Outbound{Namespace: vw.Namespace, Number: num.Ref.Name,
				MediaID: mediaID, MessageID: m.ID, Object: obj})
			m.MediaID = &row
			return map[string]any{"media": row, "mediaId": mediaID, "sha256": obj.SHA256, "size": obj.Size, "mimeType": obj.MimeType}, err
		})
	})
	if err != nil || replayed {
		a.discard(objKey, client, mediaID)
	}
	if errors.Is(err, conversation.ErrWindowClosed) {
		a.windowClosed(w, r, num)
		return
	}
	a.answerOnce(w, resp, replayed, err)
}

// discard removes a stored object and, when set, Meta's copy of a request that failed
// afterwards; failures are logged (the object is then an orphan, the upload expires at
// Meta after 30 days).
func (a *API) discard(key media.Key, client *whatsapp.Client, mediaID string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := a.cfg.Media.Delete(ctx, key); err != nil {
		a.cfg.Log.Error("removing the object of a media message not sent", "key", key.String(), "error", err)
	}
	if client != nil {
		if err := client.DeleteMedia(ctx, mediaID); err != nil {
			a.cfg.Log.Warn("deleting an uploaded media not sent", "media", mediaID, "error", err)
		}
	}
}

// uploadProblem answers a refused or failed upload to the Graph API: 502 with Meta's code
// and message (never the token: the client scrubs it).
func uploadProblem(err error) problem.Problem {
	var we *whatsapp.Error
	if errors.As(err, &we) && we.Code != 0 {
		return problem.New(http.StatusBadGateway, fmt.Sprintf(
			"the Graph API refused the upload (code %d: %s): nothing was sent", we.Code, we.Message))
	}
	return problem.New(http.StatusBadGateway, "the upload to the Graph API failed, retry later: nothing was sent")
}

// mediaOutbound is the Cloud API message of an uploaded file (mediaID "" while unknown,
// for the keyword check).
func mediaOutbound(up upload, mediaID, actor string) conversation.Outbound {
	obj := map[string]string{"id": mediaID}
	if up.caption != "" {
		obj["caption"] = up.caption
	}
	if up.Type == whatsapp.TypeDocument && up.filename != "" {
		obj["filename"] = up.filename
	}
	payload, _ := json.Marshal(map[string]any{"type": up.Type, up.Type: obj})
	return conversation.Outbound{Payload: payload, Type: up.Type, Text: up.caption, Author: actor,
		Media: &conversation.OutboundMedia{ID: mediaID, MimeType: up.MimeType, SHA256: up.sha256, Filename: obj["filename"]}}
}

// readUpload parses the form (file, caption, filename; nothing else), detects the file's
// type from its content and checks it against Meta's types and sizes, and hashes it.
func readUpload(w http.ResponseWriter, r *http.Request) (upload, error) {
	r.Body = httpapi.LimitBody(w, r, maxMediaRequest)
	if err := r.ParseMultipartForm(formMemory); err != nil {
		if p := httpapi.TooLarge(err); p != nil {
			p.Field = "file"
			p.Detail += fmt.Sprintf(": WhatsApp's largest media, a document, is at most %d bytes", media.MaxDocumentBytes)
			return upload{}, *p
		}
		return upload{}, problem.Field(http.StatusBadRequest, "file",
			"the body must be multipart/form-data with a file part named file: "+err.Error())
	}
	f := r.MultipartForm
	for name := range f.Value {
		if name != "caption" && name != "filename" {
			return upload{}, problem.Field(http.StatusBadRequest, name, fmt.Sprintf("unknown form field %q: the fields are file, caption and filename", name))
		}
	}
	for name := range f.File {
		if name != "file" {
			return upload{}, problem.Field(http.StatusBadRequest, name, fmt.Sprintf("unknown file part %q: the file goes in the part named file", name))
		}
	}
	if len(f.File["file"]) != 1 {
		return upload{}, problem.Field(http.StatusBadRequest, "file", "exactly one file part named file is required")
	}
	for name, vs := range f.Value {
		if len(vs) > 1 {
			return upload{}, problem.Field(http.StatusBadRequest, name, fmt.Sprintf("the form field %s is given %d times", name, len(vs)))
		}
		if err := httpapi.CheckText(name, first(vs)); err != nil {
			return upload{}, err
		}
	}
	if err := httpapi.CheckText("file", f.File["file"][0].Filename); err != nil {
		return upload{}, err
	}
	// From the form only: FormValue would also read the URL's query.
	up := upload{caption: first(f.Value["caption"]), filename: first(f.Value["filename"])}
	hdr := f.File["file"][0]
	file, err := hdr.Open()
	if err != nil {
		return upload{}, err
	}
	up.file = file
	if up.Upload, up.sha256, up.size, err = inspect(file, hdr.Size); err != nil {
		return upload{}, err
	}
	if up.filename == "" && up.Type == whatsapp.TypeDocument {
		up.filename = hdr.Filename
	}
	return up, up.validate(first(f.Value["filename"]) != "")
}

func first(vs []string) string {
	if len(vs) == 0 {
		return ""
	}
	return vs[0]
}

// inspect classifies the file by its first bytes and hashes it.
func inspect(file multipart.File, size int64) (media.Upload, string, int64, error) {
	head := make([]byte, 3072)
	n, err := io.ReadFull(file, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return media.Upload{}, "", 0, err
	}
	kind, err := media.Classify(head[:n], size)
	var tooLarge *media.TooLargeError
	var unsupported *media.UnsupportedError
	switch {
	case errors.As(err, &tooLarge):
		return kind, "", 0, problem.Field(http.StatusRequestEntityTooLarge, "file", tooLarge.Error())
	case errors.As(err, &unsupported):
		return kind, "", 0, problem.Field(http.StatusBadRequest, "file", unsupported.Error())
	case err != nil:
		return kind, "", 0, err
	}
	if err := rewind(file); err != nil {
		return kind, "", 0, err
	}
	h := sha256.New()
	if _, err := io.Copy(h, file); err != nil {
		return kind, "", 0, err
	}
	return kind, hex.EncodeToString(h.Sum(nil)), size, nil
}

// validate checks the caption and file name against the type Meta sends.
func (u upload) validate(filenameGiven bool) error {
	switch {
	case u.caption != "" && !u.Captioned():
		return problem.Field(http.StatusBadRequest, "caption", fmt.Sprintf("a %s takes no caption (WhatsApp shows captions on images, videos and documents)", u.Type))
	case len([]rune(u.caption)) > MaxCaptionLength:
		return problem.Field(http.StatusBadRequest, "caption", fmt.Sprintf("the caption must have at most %d characters", MaxCaptionLength))
	case filenameGiven && u.Type != whatsapp.TypeDocument:
		return problem.Field(http.StatusBadRequest, "filename", fmt.Sprintf("only a document has a file name; this file is a %s (%s)", u.Type, u.MimeType))
	case len([]rune(u.filename)) > MaxFilenameLength || strings.ContainsAny(u.filename, `/\`) ||
		strings.ContainsFunc(u.filename, unicode.IsControl):
		return problem.Field(http.StatusBadRequest, "filename", fmt.Sprintf(
			"the file name must have at most %d characters, without / or \\ or control characters", MaxFilenameLength))
	}
	return nil
}

func rewind(f io.Seeker) error {
	_, err := f.Seek(0, io.SeekStart)
	return err
}
