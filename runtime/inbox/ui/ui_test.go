package ui

import (
	"bytes"
	"encoding/json"
	"html"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"text/template/parse"
	"time"

	"github.com/switchboard-dev/switchboard/runtime/inbox/auth"
)

// postedKeys are the Idempotency-Keys the fake API's send received.
var postedKeys sync.Map

// api answers the page's in-process calls with fixed JSON: a unit test of the rendering
// (the browser tests in runtime/inbox run the real API).
func api(t *testing.T, signedIn bool) http.Handler {
	t.Helper()
	mux := http.NewServeMux()
	answer := func(pattern string, v any) {
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			if !signedIn {
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(v)
		})
	}
	answer("GET /api/v1/me", map[string]any{"login": "ana", "role": "agent", "csrfToken": "tok",
		"permissions": []string{"conversations.read", "conversations.reply", "conversations.update", "availability.set", "supervisor.read"}})
	answer("GET /api/v1/conversations", map[string]any{"items": []any{
		map[string]any{"id": 7, "number": "sales", "waId": "34600000001", "profileName": "<b>Eve</b>", "status": "open",
			"lastMessageAt": "2026-11-30T10:00:00Z", "createdAt": "2026-11-30T09:58:00Z"}}})
	answer("GET /api/v1/conversations/7", map[string]any{"id": 7, "number": "sales", "waId": "34600000001",
		"profileName": "Eve", "status": "open", "windowExpiresAt": "2026-12-01T09:00:00Z", "assignee": "ana", "assignedAt": "2026-11-30T10:00:00Z",
		"messages": []any{
			map[string]any{"id": 1, "direction": "in", "type": "text", "text": "<script>alert('x')</script><img src=x onerror=\"window.__xss=1\">", "status": "received", "createdAt": "2026-11-30T10:00:00Z"},
			map[string]any{"id": 2, "direction": "out", "type": "text", "text": "hola", "status": "read", "createdAt": "2026-11-30T10:01:00Z"},
			map[string]any{"id": 3, "direction": "out", "type": "text", "text": "x", "status": "failed", "errorReason": "131026 undeliverable", "createdAt": "2026-11-30T10:02:00Z"},
			map[string]any{"id": 4, "direction": "out", "type": "image", "text": "factura", "mediaId": 42, "status": "sent", "createdAt": "2026-11-30T10:03:00Z"},
			map[string]any{"id": 5, "direction": "in", "type": "document", "mediaId": 43, "mediaState": "failed", "status": "received", "createdAt": "2026-11-30T10:04:00Z"},
		}})
	answer("GET /api/v1/conversations/8", map[string]any{"id": 8, "number": "sales", "waId": "34600000002", "status": "open",
		"assignee": "ana", "assignedAt": "2026-11-30T10:00:00Z", "acceptedAt": "2026-11-30T10:01:00Z",
		"windowExpiresAt": "2026-11-29T09:00:00Z", "templates": []any{
			map[string]any{"name": "hello_world", "language": "en_US", "parameters": 0},
			map[string]any{"name": "order_update", "language": "en_US", "parameters": 1}}})
	answer("GET /api/v1/supervisor", map[string]any{"assignment": map[string]any{"ratio": 1},
		"agents": []any{map[string]any{"login": "ana", "availability": "online"}, map[string]any{"login": "bo", "availability": "away"},
			map[string]any{"login": "cy", "availability": "offline"}}})
	mux.HandleFunc("POST /api/v1/conversations/7/messages", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Csrf-Token") != "tok" {
			w.WriteHeader(http.StatusForbidden)
			return
		}
		w.Header().Set("Content-Type", "application/problem+json")
		if k := r.Header.Get("Idempotency-Key"); k != "" {
			postedKeys.Store(k, true)
		}
		w.WriteHeader(http.StatusUnprocessableEntity)
		_, _ = w.Write([]byte(`{"status":422,"detail":"blocked by KeywordRule acme/no-guarantees: \"garantizado\" (promises)","rule":"no-guarantees","word":"garantizado"}`))
	})
	return mux
}

func serve(t *testing.T, signedIn bool) *httptest.Server {
	t.Helper()
	u, err := New(Config{API: api(t, signedIn), Now: func() time.Time { return time.Date(2026, 11, 30, 10, 5, 0, 0, time.UTC) }})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	u.Register(mux)
	s := httptest.NewServer(mux)
	t.Cleanup(s.Close)
	return s
}

func get(t *testing.T, s *httptest.Server, path, lang string) (*http.Response, string) {
	t.Helper()
	return send(t, "GET", s.URL+path, lang, nil)
}

// send makes one request in lang (a form when form is not nil) without following a
// redirect, and returns the answer and its body.
func send(t *testing.T, method, target, lang string, form url.Values) (*http.Response, string) {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, target, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if lang != "" {
		req.Header.Set("Accept-Language", lang)
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b := new(bytes.Buffer)
	_, _ = b.ReadFrom(resp.Body)
	return resp, b.String()
}

func TestPagesEscapeAndCarryTheSecurityHeaders(t *testing.T) {
	s := serve(t, true)
	resp, body := get(t, s, "/conversations/7", "")
	if resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") {
		t.Errorf("CSP %q", csp)
	}
	if strings.Contains(body, "<script>alert") || !strings.Contains(body, "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&lt;img") {
		t.Errorf("the customer's text is not escaped:\n%s", body)
	}
	for _, want := range []string{"✓✓ Read", "✗ Failed: 131026 undeliverable", `name="csrf" value="tok"`, `id="reply-text"`, "Customer-service window: 22h 55m left"} {
		if !strings.Contains(body, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if regexp.MustCompile(`<script>|<script [^>]*>[^<]|<[^>]*\sstyle="|<[^>]*\son[a-z]+=`).MatchString(body) {
		t.Error("the page has inline script, style or event handlers")
	}
	_, list := get(t, s, "/conversations", "")
	if strings.Contains(list, "<b>Eve</b>") || !strings.Contains(list, "&lt;b&gt;Eve&lt;/b&gt;") {
		t.Error("a profile name is not escaped in the list")
	}
}

func TestClosedWindowOffersTemplates(t *testing.T) {
	_, body := get(t, serve(t, true), "/conversations/8", "")
	for _, want := range []string{"only a template can be sent", `value="order_update|en_US" data-params="1"`, `id="param1"`} {
		if !strings.Contains(body, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if strings.Contains(body, `id="reply-text"`) {
		t.Error("a free-form reply box with the window closed")
	}
}

func TestBlockedReplyIsShownWithTheDraft(t *testing.T) {
	s := serve(t, true)
	resp, err := http.PostForm(s.URL+"/conversations/7/reply", url.Values{"csrf": {"tok"}, "text": {"está garantizado"}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b := new(bytes.Buffer)
	_, _ = b.ReadFrom(resp.Body)
	if resp.StatusCode != 422 || !strings.Contains(b.String(), "Not done") && !strings.Contains(b.String(), "no-guarantees") ||
		!strings.Contains(b.String(), "está garantizado</textarea>") {
		t.Errorf("%d %s", resp.StatusCode, b.String())
	}
}

func TestSignedOutGoesToLogin(t *testing.T) {
	s := serve(t, false)
	resp, _ := get(t, s, "/conversations?view=all", "")
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login?next=%2Fconversations%3Fview%3Dall" {
		t.Fatalf("%d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp, body := get(t, s, "/login", "es-ES,es;q=0.9")
	if resp.StatusCode != 200 || !strings.Contains(body, `<html lang="es">`) || !strings.Contains(body, "Contraseña") {
		t.Errorf("Spanish login page: %d", resp.StatusCode)
	}
	if _, body := get(t, s, "/login", "pt-BR"); !strings.Contains(body, "Senha") {
		t.Error("no Portuguese login page")
	}
	// A login form posted without its token (from another site) is refused.
	r, err := http.PostForm(s.URL+"/login", url.Values{"login": {"ana"}, "password": {"x"}})
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != http.StatusForbidden {
		t.Errorf("login without the form's token: %d", r.StatusCode)
	}
}

// TestNoStringOutsideTheCatalogues: the templates' text is markup, template actions and
// symbols; words come from the catalogues, and every key used exists in all of them.
func TestNoStringOutsideTheCatalogues(t *testing.T) {
	l, err := loadI18n()
	if err != nil {
		t.Fatal(err)
	}
	known := map[string]bool{}
	for _, k := range l.keys {
		known[k] = true
	}
	autonyms := regexp.MustCompile(`English|Español|Português`) // a language's own name is never translated
	tags := regexp.MustCompile(`(?s)<[^>]*>`)
	names, _ := fs.Glob(templateFiles, "templates/*.html")
	for _, n := range names {
		src, _ := fs.ReadFile(templateFiles, n)
		trees := map[string]*parse.Tree{}
		tr := parse.New(n)
		tr.Mode = parse.SkipFuncCheck
		if _, err := tr.Parse(string(src), "{{", "}}", trees); err != nil {
			t.Fatal(err)
		}
		for _, tree := range trees {
			// The tree's text with every action replaced by a placeholder, so that tags
			// cut by actions can be removed whole.
			var text strings.Builder
			walk(tree.Root, func(node parse.Node) {
				switch x := node.(type) {
				case *parse.TextNode:
					text.Write(x.Text)
				case *parse.ActionNode:
					text.WriteString(" 0 ")
				case *parse.StringNode:
					if regexp.MustCompile(`^"[a-z0-9]+\.[a-zA-Z0-9.]+"$`).MatchString(x.Quoted) && !known[x.Text] && !isPermission(x.Text) {
						t.Errorf("%s: key %q is in no catalogue", n, x.Text)
					}
				}
			})
			rest := autonyms.ReplaceAllString(tags.ReplaceAllString(text.String(), ""), "")
			for _, w := range regexp.MustCompile(`\pL{2,}`).FindAllString(rest, -1) {
				t.Errorf("%s: a word outside the catalogues: %q", n, w)
			}
		}
	}
}

// isPermission tells a permission name (checked with Me.Can) from a catalogue key.
func isPermission(s string) bool {
	for _, p := range []string{"conversations.", "supervisor.", "agents.", "audit.", "tokens.", "availability.set", "reports.", "export"} {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

func walk(n parse.Node, fn func(parse.Node)) {
	if n == nil {
		return
	}
	fn(n)
	switch x := n.(type) {
	case *parse.ListNode:
		if x == nil {
			return
		}
		for _, c := range x.Nodes {
			walk(c, fn)
		}
	case *parse.ActionNode:
		walk(x.Pipe, fn)
	case *parse.PipeNode:
		if x == nil {
			return
		}
		for _, c := range x.Cmds {
			walk(c, fn)
		}
	case *parse.CommandNode:
		for _, a := range x.Args {
			walk(a, fn)
		}
	case *parse.IfNode:
		walk(x.Pipe, fn)
		walk(x.List, fn)
		walk(x.ElseList, fn)
	case *parse.RangeNode:
		walk(x.Pipe, fn)
		walk(x.List, fn)
		walk(x.ElseList, fn)
	case *parse.WithNode:
		walk(x.Pipe, fn)
		walk(x.List, fn)
		walk(x.ElseList, fn)
	case *parse.TemplateNode:
		walk(x.Pipe, fn)
	}
}

// TestMediaLinkShown: a message with an archived file (here one an agent sent) links to
// it through the inbox (GET /api/v1/media/{id}), never to a Meta or bucket URL.
func TestMediaLinkShown(t *testing.T) {
	s := serve(t, true)
	_, body := get(t, s, "/conversations/7", "en")
	if !strings.Contains(body, `href="/api/v1/media/42"`) || !strings.Contains(body, "Media: Image") {
		t.Fatalf("no link to the archived image in:\n%s", body)
	}
	if n := strings.Count(body, "/api/v1/media/"); n != 2 {
		t.Errorf("%d media links for two files", n)
	}
	// A file that is not archived says so, in the page's language; a stored one says nothing.
	if !strings.Contains(body, "download failed: see the message&#39;s media") || strings.Count(body, `class="muted media-state"`) != 1 {
		t.Errorf("the failed download is not shown once on its message:\n%s", body)
	}
	if _, es := get(t, s, "/conversations/7", "es"); !strings.Contains(es, "la descarga falló") {
		t.Errorf("the failed download is not shown in Spanish:\n%s", es)
	}
}

// TestUnknownPageIsNotFound: a path nobody serves answers the not-found page in the
// browser's language (404), an unknown API path an RFC 9457 problem; a plain agent's
// /admin is the forbidden page and its navigation has no admin link.
func TestUnknownPageIsNotFound(t *testing.T) {
	s := serve(t, true)
	for _, c := range []struct{ path, lang, want string }{
		{"/no/such/page", "", "Not found, or not yours to see."},
		{"/no/such/page", "es", "No existe, o no le corresponde verlo."},
		{"/api/v1/nope", "", `"status":404`},
	} {
		resp, body := get(t, s, c.path, c.lang)
		if resp.StatusCode != http.StatusNotFound || !strings.Contains(body, c.want) {
			t.Errorf("GET %s (%s): %d %s", c.path, c.lang, resp.StatusCode, body)
		}
	}
	resp, body := get(t, s, "/admin", "")
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "Your role does not allow this.") || strings.Contains(body, `href="/admin"`) {
		t.Errorf("/admin as a plain agent: %d %s", resp.StatusCode, body)
	}
}

// TestFormsCarryAnIdempotencyKey: each render of a conversation gives its sending forms a
// new key, and a posted form passes its key to the API as the Idempotency-Key header (so
// a form submitted twice is sent once: docs/api.md#idempotency).
func TestFormsCarryAnIdempotencyKey(t *testing.T) {
	keyOf := regexp.MustCompile(`name="idem" value="(ui-[A-Z2-7]+)"`)
	s := serve(t, true)
	_, first := get(t, s, "/conversations/7", "")
	_, second := get(t, s, "/conversations/7", "")
	k1, k2 := keyOf.FindStringSubmatch(first), keyOf.FindStringSubmatch(second)
	if k1 == nil || k2 == nil || k1[1] == k2[1] {
		t.Fatalf("keys %v and %v: want one per render", k1, k2)
	}
	if _, tpl := get(t, s, "/conversations/8", ""); !keyOf.MatchString(tpl) {
		t.Error("the template form has no key")
	}
	resp, err := http.PostForm(s.URL+"/conversations/7/reply", url.Values{"csrf": {"tok"}, "idem": {k1[1]}, "text": {"garantizado"}})
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if _, ok := postedKeys.Load(k1[1]); !ok {
		t.Errorf("the API did not receive Idempotency-Key %q", k1[1])
	}
}

// TestLoginShowsWhySingleSignOnFailed: each reason code a failed single sign-on comes
// back with (auth.SSOReasons) shows its catalogue message in each language; an unknown
// code shows the generic message and is never echoed.
func TestLoginShowsWhySingleSignOnFailed(t *testing.T) {
	s := serve(t, false)
	for _, lang := range []string{"en", "es", "pt"} {
		raw, err := catalogues.ReadFile("i18n/" + lang + ".json")
		if err != nil {
			t.Fatal(err)
		}
		var cat map[string]string
		if err := json.Unmarshal(raw, &cat); err != nil {
			t.Fatal(err)
		}
		seen := map[string]string{}
		for _, code := range append(slices.Clone(auth.SSOReasons), "<b>no-such-code</b>") {
			key := "login.sso." + code
			if _, ok := cat[key]; !ok {
				key = "login.sso.failed"
			}
			msg := cat[key]
			if msg == "" {
				t.Fatalf("%s: no message %q", lang, key)
			}
			q := url.Values{"next": {"/conversations/7"}, "sso": {code}}
			resp, body := get(t, s, "/login?"+q.Encode(), lang)
			if resp.StatusCode != 200 || !strings.Contains(body, `<p class="error" role="alert">`+html.EscapeString(msg)+`</p>`) {
				t.Errorf("%s, sso=%s: %d, the page lacks %q", lang, code, resp.StatusCode, msg)
			}
			if strings.Contains(body, "no-such-code") || !strings.Contains(body, `name="next" value="/conversations/7"`) {
				t.Errorf("%s, sso=%s: the code is echoed or next is lost", lang, code)
			}
			if other, dup := seen[msg]; dup && key != "login.sso.failed" {
				t.Errorf("%s: %s and %s show the same message", lang, other, code)
			}
			seen[msg] = code
		}
	}
	if _, body := get(t, s, "/login", "en"); strings.Contains(body, `role="alert"`) {
		t.Error("a login page without ?sso= shows an error")
	}
}

// TestAcceptShownUntilAccepted: the Accept button is offered to the assignee of a
// conversation not accepted yet (7), and not once it is accepted (8).
func TestAcceptShownUntilAccepted(t *testing.T) {
	s := serve(t, true)
	if _, body := get(t, s, "/conversations/7", "en"); !strings.Contains(body, `action="/conversations/7/accept"`) {
		t.Errorf("no Accept on ana's conversation not accepted yet:\n%s", body)
	}
	if _, body := get(t, s, "/conversations/8", "en"); strings.Contains(body, "/accept") {
		t.Errorf("Accept offered on a conversation accepted already:\n%s", body)
	}
}
