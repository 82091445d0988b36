// Package ui is the inbox's web page for agents and supervisors (docs/ui.md): HTML pages
// rendered on the server with html/template (every value escaped by context) and
// progressively enhanced with htmx, vendored from npm at a pinned version and embedded,
// so nothing is fetched at run time.
//
// The pages hold no business rules and no SQL: each one calls the agents' API in-process
// (the inbox's own http.Handler) with the browser's credentials, so every read and every
// change goes through the same handlers, permission checks, CSRF check and audit log as
// an integration's call; a page only turns the API's JSON into HTML and a form into the
// API's JSON. A 401 from the API sends the browser to the login page; 403 and 404 are
// shown as such.
//
// Security headers on every page: a Content-Security-Policy without 'unsafe-inline' (no
// inline script or style: htmx's injected indicator styles are turned off by its
// htmx-config meta tag), frame-ancestors 'none', nosniff, no referrer.
package ui

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/switchboard-dev/switchboard/runtime/inbox/httpapi"
	"github.com/switchboard-dev/switchboard/runtime/inbox/problem"
)

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed static
var staticFiles embed.FS

// ContentSecurityPolicy is sent with every page and asset.
const ContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; " +
	"media-src 'self' blob:; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; " +
	"form-action 'self'; frame-ancestors 'none'"

// Config configures the pages. API is required.
type Config struct {
	// API is the inbox's handler serving /api/v1/...: pages call it in-process.
	API http.Handler
	Log *slog.Logger
	// SSO reports whether single sign-on is configured now (the Inbox's spec.auth.oidc);
	// when it does, the login page offers its button (/auth/oidc/login?next=…). nil: never.
	SSO func() bool
	Now func() time.Time
}

// UI serves the pages.
type UI struct {
	cfg   Config
	i18n  *i18n
	pages map[string]*template.Template
	// mux and patterns are the mux Register added the pages to and their routes (Pages).
	mux      *http.ServeMux
	patterns map[string]bool
}

// New parses the templates and loads the catalogues.
func New(cfg Config) (*UI, error) {
	if cfg.API == nil {
		return nil, fmt.Errorf("ui: Config.API is required")
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	l, err := loadI18n()
	if err != nil {
		return nil, err
	}
	u := &UI{cfg: cfg, i18n: l, pages: map[string]*template.Template{}, patterns: map[string]bool{}}
	names, err := fs.Glob(templateFiles, "templates/*.html")
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		base := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if base == "layout" {
			continue
		}
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFiles, "templates/layout.html", n)
		if err != nil {
			return nil, fmt.Errorf("ui: %s: %w", n, err)
		}
		u.pages[base] = t
	}
	return u, nil
}

// Register adds the pages and assets to mux. Each checks its own request's text
// (httpapi.CheckRequest) and answers a refusal as a page (Pages).
func (u *UI) Register(mux *http.ServeMux) {
	u.mux = mux
	handle := func(pattern string, h http.HandlerFunc) {
		u.patterns[pattern] = true
		mux.Handle(pattern, u.secure(u.checked(h)))
	}
	static, _ := fs.Sub(staticFiles, "static")
	files := http.FileServerFS(static)
	handle("GET /static/", http.StripPrefix("/static/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Vendored files carry their version in their name; the app's own are small.
		if strings.HasPrefix(r.URL.Path, "vendor/") {
			w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			w.Header().Set("Cache-Control", "no-cache")
		}
		files.ServeHTTP(w, r)
	})).ServeHTTP)
	handle("GET /{$}", http.RedirectHandler("/conversations", http.StatusSeeOther).ServeHTTP)
	handle("GET /login", u.loginPage)
	handle("POST /login", u.login)
	handle("POST /logout", u.logout)
	handle("POST /lang", u.setLang)
	handle("GET /conversations", u.conversations)
	handle("GET /conversations/{id}", u.conversation)
	handle("POST /conversations/{id}/{action}", u.act)
	handle("POST /availability", u.availability)
	handle("GET /supervisor", u.supervisor)
	handle("GET /admin", u.admin)
	handle("/", u.notFound)
}

// Pages reports whether r goes to a page: a route Register added, outside /api/ (whose
// unknown paths the pages answer as the API would). The traffic port's text check
// (httpapi.CheckRequestsExcept) leaves those to the page, which answers a browser with
// the translated error page, or the form's page with the problem inline, rather than an
// RFC 9457 problem document.
func (u *UI) Pages(r *http.Request) bool {
	if u.mux == nil || strings.HasPrefix(r.URL.Path, "/api/") {
		return false
	}
	_, pattern := u.mux.Handler(r)
	return u.patterns[pattern]
}

// checked runs httpapi.CheckRequest before h: a path segment, query parameter or form
// field PostgreSQL could not store is refused (refuse) before h calls the API with it.
func (u *UI) checked(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var p problem.Problem
		if strings.HasPrefix(r.URL.Path, "/api/") {
			h.ServeHTTP(w, r) // notFound answers a problem, as the API would
			return
		}
		if err := httpapi.CheckRequest(u.mux, r); errors.As(err, &p) {
			u.refuse(w, r, p)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// secure sets the security headers.
func (u *UI) secure(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", ContentSecurityPolicy)
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "no-referrer")
		hd.Set("X-Frame-Options", "DENY")
		h.ServeHTTP(w, r)
	})
}

// apiAnswer is what the API answered an in-process call.
type apiAnswer struct {
	Status int
	Header http.Header
	Body   []byte
}

// problem is the API's RFC 9457 error, as far as the page shows it.
func (a apiAnswer) problem() string {
	var p struct {
		Detail string `json:"detail"`
		Rule   string `json:"rule"`
		Word   string `json:"word"`
	}
	_ = json.Unmarshal(a.Body, &p)
	if p.Detail == "" {
		return http.StatusText(a.Status)
	}
	return p.Detail
}

// doc is the answer's problem document (zero when it is none).
func (a apiAnswer) doc() problem.Problem {
	var p problem.Problem
	_ = json.Unmarshal(a.Body, &p)
	return p
}

// decode reads the answer's JSON into v.
func (a apiAnswer) decode(v any) error { return json.Unmarshal(a.Body, v) }

// forwarded are the request headers a page passes on to the API: the credentials, the
// CSRF token, the language, and the client's address for throttling.
var forwarded = []string{"Cookie", "Authorization", "X-Csrf-Token", "Accept-Language", "User-Agent", "X-Forwarded-For"}

// idemField is the hidden form field carrying a page render's Idempotency-Key, passed to
// the API as the header: a form posted twice (a double click, a resubmission) is acted on
// once, and the second post answers the first's result.
const idemField = "idem"

// call runs one API request in-process with the browser's credentials. body, when not
// nil, is sent as JSON.
func (u *UI) call(r *http.Request, method, path string, body any) apiAnswer {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req := httptest.NewRequestWithContext(r.Context(), method, path, rd)
	req.RemoteAddr = r.RemoteAddr
	req.Host = r.Host
	req.TLS = r.TLS
	for _, h := range forwarded {
		for _, v := range r.Header.Values(h) {
			req.Header.Add(h, v)
		}
	}
	if tok := r.FormValue("csrf"); tok != "" && req.Header.Get("X-CSRF-Token") == "" {
		req.Header.Set("X-CSRF-Token", tok)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key := r.PostFormValue(idemField); key != "" && method == http.MethodPost {
		req.Header.Set("Idempotency-Key", key)
	}
	req.Header.Set("Accept", "application/json")
	rec := httptest.NewRecorder()
	u.cfg.API.ServeHTTP(rec, req)
	return apiAnswer{Status: rec.Code, Header: rec.Header(), Body: rec.Body.Bytes()}
}

// view is what every template gets.
type view struct {
	Lang  string
	P     *message.Printer
	Me    *me
	Title string
	Page  string
	Data  any
	Now   time.Time
	Error string
}

// enumValue matches the API's enumerated values (a status, an availability, a message
// type): letters, digits and underscores only, so a value is never read as a format.
var enumValue = regexp.MustCompile(`^[a-z][a-zA-Z0-9_]*$`)

// Enum is how the page shows one of the API's enumerated values: the catalogue's
// "<kind>.<value>" (status.open, availability.away, msgType.image) in the page's
// language; a value no catalogue names yet (one a newer API added) is shown as the API
// spelt it rather than hidden.
func (v view) Enum(kind, value string) string { return translated(v.P, kind, value) }

// translated is the catalogue's "<kind>.<value>" in p's language, else value.
func translated(p *message.Printer, kind, value string) string {
	if !enumValue.MatchString(value) {
		return value
	}
	key := kind + "." + value
	if s := p.Sprintf(key); s != key {
		return s
	}
	return value
}

// me is the signed-in person, from GET /api/v1/me.
type me struct {
	Subject      string   `json:"subject"`
	Login        string   `json:"login"`
	DisplayName  string   `json:"displayName"`
	Role         string   `json:"role"`
	Permissions  []string `json:"permissions"`
	Teams        []string `json:"teams"`
	CSRFToken    string   `json:"csrfToken"`
	Availability string   `json:"availability"`
}

// Can reports whether the person holds a permission.
func (m *me) Can(perm string) bool {
	for _, p := range m.Permissions {
		if p == perm {
			return true
		}
	}
	return false
}

// LoginName is the agent's login name (what RoutingPolicy teams[].members and a
// conversation's assignee name): /api/v1/me's subject.
func (m *me) LoginName() string {
	if m.Login != "" {
		return m.Login
	}
	return m.Subject
}

// Name is how the header names the person.
func (m *me) Name() string {
	for _, s := range []string{m.DisplayName, m.Login, m.Subject} {
		if s != "" {
			return s
		}
	}
	return "?"
}

// whoami asks the API who the browser is; nil (after redirecting to the login page)
// when nobody is signed in.
func (u *UI) whoami(w http.ResponseWriter, r *http.Request) *me {
	a := u.call(r, "GET", "/api/v1/me", nil)
	if a.Status == http.StatusUnauthorized || a.Status == http.StatusNotFound {
		http.Redirect(w, r, "/login?next="+url.QueryEscape(returnTo(r)), http.StatusSeeOther)
		return nil
	}
	var m me
	if a.Status != http.StatusOK || a.decode(&m) != nil {
		u.fail(w, r, nil, a)
		return nil
	}
	return &m
}

// returnTo is where to send the browser after signing in: a GET's own URL; for a form
// (a POST, whose URL no GET serves) the page the form belongs to: the conversation of
// /conversations/{id}/{action}, else the form's "back" field, else the Referer when it
// is a path on this site (httpapi.LocalPath), else the conversation list.
func returnTo(r *http.Request) string {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return r.URL.RequestURI()
	}
	if id := r.PathValue("id"); id != "" && r.PathValue("action") != "" {
		return "/conversations/" + url.PathEscape(id)
	}
	if back := r.PostFormValue("back"); httpapi.LocalPath(back) {
		return back
	}
	if ref, err := url.Parse(r.Referer()); err == nil && ref.Host == r.Host && httpapi.LocalPath(ref.RequestURI()) {
		return ref.RequestURI()
	}
	return "/conversations"
}

// signedIn is who the browser is, or nil, without sending it anywhere.
func (u *UI) signedIn(r *http.Request) *me {
	a := u.call(r, "GET", "/api/v1/me", nil)
	if a.Status != http.StatusOK {
		return nil
	}
	m := &me{}
	if a.decode(m) != nil {
		return nil
	}
	return m
}

func (u *UI) newView(r *http.Request, m *me, page string) view {
	tag := u.i18n.lang(r)
	base, _ := tag.Base()
	return view{Lang: base.String(), P: u.i18n.printer(tag), Me: m, Page: page, Now: u.cfg.Now()}
}

// render writes a page (or, for an htmx request of a fragment, the named block).
func (u *UI) render(w http.ResponseWriter, r *http.Request, code int, v view) {
	t := u.pages[v.Page]
	if t == nil {
		http.Error(w, "no such page", http.StatusInternalServerError)
		return
	}
	var buf bytes.Buffer
	name := "layout.html"
	if frag := r.URL.Query().Get("fragment"); frag != "" && r.Header.Get("HX-Request") == "true" && t.Lookup(frag) != nil {
		name = frag
	}
	if err := t.ExecuteTemplate(&buf, name, v); err != nil {
		u.cfg.Log.Error("ui: rendering", "page", v.Page, "error", err)
		http.Error(w, "the page could not be rendered", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = w.Write(buf.Bytes())
}

// fail shows the API's refusal as a page.
func (u *UI) fail(w http.ResponseWriter, r *http.Request, m *me, a apiAnswer) {
	v := u.newView(r, m, "error")
	key := "error.unavailable"
	switch a.Status {
	case http.StatusNotFound:
		key = "error.notFound"
	case http.StatusForbidden:
		key = "error.forbidden"
	}
	v.Error = v.P.Sprintf(key)
	if a.Status >= 400 && a.Status < 500 && a.Status != http.StatusNotFound && a.Status != http.StatusForbidden &&
		a.Status != http.StatusUnauthorized {
		v.Error = refusal(v.P, a.doc(), a.problem())
	}
	code := a.Status
	if code < 400 {
		code = http.StatusBadGateway
	}
	u.render(w, r, code, v)
}

// refusal says in the page's language what the API refused: the field in words (the
// catalogue's field.<name>, else its name quoted) and the API's detail.
func refusal(pr *message.Printer, p problem.Problem, detail string) string {
	if p.Field == "" {
		return pr.Sprintf("error.badRequest", detail)
	}
	return pr.Sprintf("error.badField", fieldLabel(pr, p.Field), detail)
}

// fieldLabel names a request field in words: the catalogue's field.<name>, else the
// name quoted.
func fieldLabel(pr *message.Printer, field string) string {
	if s := translated(pr, "field", field); s != field {
		return s
	}
	return strconv.Quote(field)
}

// refuse answers a page request whose text the inbox cannot store (p, from
// httpapi.CheckRequest: a 400 naming the field): a conversation's form shows its page
// again with the problem inline and the draft kept (what cannot be stored replaced by
// U+FFFD), the login form the login page, anything else the error page; always with p's
// status and the field named in the page's language.
func (u *UI) refuse(w http.ResponseWriter, r *http.Request, p problem.Problem) {
	pr := u.i18n.printer(u.i18n.lang(r))
	msg := pr.Sprintf("error.badText", fieldLabel(pr, p.Field))
	if p.Field == "body" {
		msg = pr.Sprintf("error.badRequest", p.Detail)
	}
	if r.Method == http.MethodPost && r.URL.Path == "/login" {
		u.showLogin(w, r, p.Status, storable(r.PostFormValue("login")), msg)
		return
	}
	m := u.signedIn(r)
	if _, err := strconv.ParseInt(r.PathValue("id"), 10, 64); err == nil && m != nil && r.Method == http.MethodPost &&
		r.PathValue("action") != "" && p.Field != "id" && p.Field != "action" {
		u.showConversation(w, r, m, p.Status, storable(r.PostFormValue("text")), msg)
		return
	}
	v := u.newView(r, m, "error")
	v.Error = msg
	u.render(w, r, p.Status, v)
}

// storable is s with the NUL character and bytes that are not UTF-8 replaced by U+FFFD.
func storable(s string) string {
	return strings.ToValidUTF8(strings.ReplaceAll(s, "\x00", "\uFFFD"), "\uFFFD")
}

func (u *UI) setLang(w http.ResponseWriter, r *http.Request) {
	tag, _ := language.MatchStrings(u.i18n.matcher, r.FormValue("lang"))
	base, _ := tag.Base()
	http.SetCookie(w, &http.Cookie{Name: LangCookie, Value: base.String(), Path: "/", MaxAge: 365 * 24 * 3600,
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: r.TLS != nil})
	http.Redirect(w, r, safeNext(r.FormValue("back")), http.StatusSeeOther)
}
