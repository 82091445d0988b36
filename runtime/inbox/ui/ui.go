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
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"time"

	"golang.org/x/text/language"
	"golang.org/x/text/message"
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
	u := &UI{cfg: cfg, i18n: l, pages: map[string]*template.Template{}}
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

// Register adds the pages and assets to mux.
func (u *UI) Register(mux *http.ServeMux) {
	static, _ := fs.Sub(staticFiles, "static")
	files := http.FileServerFS(static)
	mux.Handle("GET /static/", u.secure(http.StripPrefix("/static/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Vendored files carry their version in their name; the app's own are small.
		if strings.HasPrefix(r.URL.Path, "vendor/") {
			w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			w.Header().Set("Cache-Control", "no-cache")
		}
		files.ServeHTTP(w, r)
	}))))
	mux.Handle("GET /{$}", u.secure(http.RedirectHandler("/conversations", http.StatusSeeOther)))
	mux.Handle("GET /login", u.secure(http.HandlerFunc(u.loginPage)))
	mux.Handle("POST /login", u.secure(http.HandlerFunc(u.login)))
	mux.Handle("POST /logout", u.secure(http.HandlerFunc(u.logout)))
	mux.Handle("POST /lang", u.secure(http.HandlerFunc(u.setLang)))
	mux.Handle("GET /conversations", u.secure(http.HandlerFunc(u.conversations)))
	mux.Handle("GET /conversations/{id}", u.secure(http.HandlerFunc(u.conversation)))
	mux.Handle("POST /conversations/{id}/{action}", u.secure(http.HandlerFunc(u.act)))
	mux.Handle("POST /availability", u.secure(http.HandlerFunc(u.availability)))
	mux.Handle("GET /supervisor", u.secure(http.HandlerFunc(u.supervisor)))
	mux.Handle("GET /admin", u.secure(http.HandlerFunc(u.admin)))
	mux.Handle("/", u.secure(http.HandlerFunc(u.notFound)))
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
		http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
		return nil
	}
	var m me
	if a.Status != http.StatusOK || a.decode(&m) != nil {
		u.fail(w, r, nil, a)
		return nil
	}
	return &m
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
	code := a.Status
	if code < 400 {
		code = http.StatusBadGateway
	}
	u.render(w, r, code, v)
}

func (u *UI) setLang(w http.ResponseWriter, r *http.Request) {
	tag, _ := language.MatchStrings(u.i18n.matcher, r.FormValue("lang"))
	base, _ := tag.Base()
	http.SetCookie(w, &http.Cookie{Name: LangCookie, Value: base.String(), Path: "/", MaxAge: 365 * 24 * 3600,
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: r.TLS != nil})
	http.Redirect(w, r, safeNext(r.FormValue("back")), http.StatusSeeOther)
}
