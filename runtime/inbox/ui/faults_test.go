package ui

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// post sends a form the way a browser does, without following the redirect.
func post(t *testing.T, s string, path, lang string, form url.Values) (*http.Response, string) {
	t.Helper()
	return send(t, "POST", s+path, lang, form)
}

// TestTextThePagesCannotStoreIsAnHTMLPage: a NUL character (or bytes that are not UTF-8)
// in a page's query or form is refused with 400 as an HTML page in the browser's
// language naming the field in words (never a problem document); a conversation's form
// shows its page again with the problem inline and the draft kept.
func TestTextThePagesCannotStoreIsAnHTMLPage(t *testing.T) {
	s := serve(t, true)
	for _, c := range []struct{ path, lang, want string }{
		{"/conversations?q=%00", "", "Phone or name holds a character the inbox cannot store"},
		{"/conversations?q=%00", "es", "Teléfono o nombre contiene un carácter que la bandeja no puede guardar"},
		{"/conversations?q=%FF", "pt", "Telefone ou nome contém um caractere"},
		{"/conversations?view=a%00", "", "Show holds a character"},
		{"/supervisor?x%00=1", "", `&#34;parameter name&#34; holds a character`},
		{"/no/such%00page", "", "The address holds a character"},
	} {
		resp, body := get(t, s, c.path, c.lang)
		if resp.StatusCode != http.StatusBadRequest || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") ||
			!strings.Contains(body, c.want) || !strings.Contains(body, `role="alert"`) {
			t.Errorf("GET %s (%s): %d %s\n%s", c.path, c.lang, resp.StatusCode, resp.Header.Get("Content-Type"), body)
		}
		if resp.Header.Get("Content-Security-Policy") == "" {
			t.Errorf("GET %s: no security headers", c.path)
		}
	}
	resp, body := post(t, s.URL, "/conversations/7/note", "es", url.Values{"csrf": {"tok"}, "text": {"a\x00b"}})
	if resp.StatusCode != http.StatusBadRequest || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") ||
		!strings.Contains(body, "El texto contiene un carácter") || !strings.Contains(body, "a\uFFFDb</textarea>") {
		t.Errorf("POST /conversations/7/note: %d %s\n%s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	// The login form with such a password is the login page again, not a problem.
	resp, body = post(t, s.URL, "/login", "", url.Values{"login": {"ana"}, "password": {"x\x00"}})
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "Password holds a character") || !strings.Contains(body, `name="password"`) {
		t.Errorf("POST /login: %d\n%s", resp.StatusCode, body)
	}
	// Under /api/ the API's own answer stays a problem document.
	resp, body = get(t, s, "/api/v1/nope%00", "")
	if resp.StatusCode != http.StatusNotFound || !strings.Contains(body, `"status":404`) {
		t.Errorf("GET /api/v1/nope%%00: %d %s", resp.StatusCode, body)
	}
}

// TestNoRawEnumValues: in Spanish and Portuguese the list, the contact panel, the
// messages and the supervisor dashboard show the API's enumerated values (status,
// availability, message type) translated, never as the API spells them in English.
func TestNoRawEnumValues(t *testing.T) {
	s := serve(t, true)
	raw := regexp.MustCompile(`>\s*\[?(open|pending|resolved|waiting|online|away|offline|image|text|audio|video|document)\]?\s*<`)
	for _, c := range []struct {
		lang string
		want map[string][]string
	}{
		{"es", map[string][]string{"/conversations": {"<td>Abierta</td>"}, "/conversations/7": {"<dd>Abierta</dd>", "Adjunto: Imagen"},
			"/supervisor": {"<td>Disponible</td>", "<td>Ausente</td>", "<td>Desconectado</td>"}}},
		{"pt", map[string][]string{"/conversations": {"<td>Aberta</td>"}, "/conversations/7": {"<dd>Aberta</dd>"},
			"/supervisor": {"<td>Ausente</td>"}}},
	} {
		for path, wants := range c.want {
			resp, body := get(t, s, path, c.lang)
			if resp.StatusCode != 200 {
				t.Fatalf("%s (%s): %d", path, c.lang, resp.StatusCode)
			}
			// The options of the filters and the availability switch carry the values
			// as attributes; only the text shown matters.
			if m := raw.FindString(body); m != "" {
				t.Errorf("%s (%s) shows the raw value %q", path, c.lang, m)
			}
			for _, w := range wants {
				if !strings.Contains(body, w) {
					t.Errorf("%s (%s) lacks %q", path, c.lang, w)
				}
			}
		}
	}
}

// TestSignInReturnsToTheFormsPage: a form posted after the session expired sends the
// browser to sign in and then back to the page the form belongs to (a POST's own URL
// serves no page: 404 after signing in), a GET back to its own URL.
func TestSignInReturnsToTheFormsPage(t *testing.T) {
	s := serve(t, false)
	for _, c := range []struct {
		path string
		form url.Values
		next string
	}{
		{"/conversations/3/note", url.Values{"text": {"hola"}}, "/conversations/3"},
		{"/conversations/3/priority", url.Values{"priority": {"2"}}, "/conversations/3"},
		{"/availability", url.Values{"availability": {"away"}, "back": {"/supervisor"}}, "/supervisor"},
		{"/availability", url.Values{"availability": {"away"}, "back": {"//evil.example"}}, "/conversations"},
	} {
		resp, _ := post(t, s.URL, c.path, "", c.form)
		if want := "/login?next=" + url.QueryEscape(c.next); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != want {
			t.Errorf("POST %s: %d %q, want %q", c.path, resp.StatusCode, resp.Header.Get("Location"), want)
		}
	}
	// Without a back field, a Referer on this site (another site's is ignored).
	for ref, want := range map[string]string{s.URL + "/supervisor?x=1": "/supervisor?x=1", "https://evil.example/x": "/conversations"} {
		req, _ := http.NewRequest("POST", s.URL+"/availability", strings.NewReader("availability=away"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Referer", ref)
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.Header.Get("Location") != "/login?next="+url.QueryEscape(want) {
			t.Errorf("Referer %s: %q, want next=%s", ref, resp.Header.Get("Location"), want)
		}
	}
	resp, _ := get(t, s, "/conversations/3?fragment=messages", "")
	if resp.Header.Get("Location") != "/login?next="+url.QueryEscape("/conversations/3?fragment=messages") {
		t.Errorf("GET: %q", resp.Header.Get("Location"))
	}
}

// TestPriorityInputMatchesTheAPI: the priority field allows what PUT
// /api/v1/conversations/{id}/priority accepts, 0 to 10 (docs/api.md).
func TestPriorityInputMatchesTheAPI(t *testing.T) {
	_, body := get(t, serve(t, true), "/conversations/7", "")
	if !strings.Contains(body, `name="priority" type="number" min="0" max="10"`) {
		t.Errorf("the priority input does not allow 0 to 10:\n%s", body)
	}
}
