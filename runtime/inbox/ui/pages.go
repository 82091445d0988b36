package ui

import (
	"cmp"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"html/template"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/switchboard-dev/switchboard/runtime/inbox/httpapi"
	"github.com/switchboard-dev/switchboard/runtime/inbox/problem"
)

// loginCSRFCookie carries the login form's token (double submit): a login form posted
// from another site lacks it.
const loginCSRFCookie = "sb_login_csrf"

type loginData struct {
	Next, CSRF, Login string
	SSO               bool
}

func (u *UI) loginPage(w http.ResponseWriter, r *http.Request) {
	u.showLogin(w, r, http.StatusOK, "", "")
}

// ssoMessageKey is the catalogue key of a failed single sign-on's reason code
// (?sso=CODE, the codes of auth.SSOReasons): login.sso.CODE, or login.sso.failed for a
// code the catalogues do not know. The code itself never reaches the page.
func (u *UI) ssoMessageKey(code string) string {
	if k := "login.sso." + code; slices.Contains(u.i18n.keys, k) {
		return k
	}
	return "login.sso.failed"
}

func (u *UI) showLogin(w http.ResponseWriter, r *http.Request, code int, login, failure string) {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	tok := base64.RawURLEncoding.EncodeToString(b)
	http.SetCookie(w, &http.Cookie{Name: loginCSRFCookie, Value: tok, Path: "/login", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil, MaxAge: 3600})
	v := u.newView(r, nil, "login")
	v.Data = loginData{Next: safeNext(r.FormValue("next")), CSRF: tok, Login: login, SSO: u.cfg.SSO != nil && u.cfg.SSO()}
	switch reason := r.URL.Query().Get("sso"); {
	case failure != "":
		v.Error = v.P.Sprintf("login.failed", failure)
	case reason != "":
		v.Error = v.P.Sprintf(u.ssoMessageKey(reason))
	}
	u.render(w, r, code, v)
}

// safeNext keeps a same-site path to go to after signing in (httpapi.LocalPath), else
// the conversation list.
func safeNext(next string) string {
	if !httpapi.LocalPath(next) {
		return "/conversations"
	}
	return next
}

func (u *UI) login(w http.ResponseWriter, r *http.Request) {
	c, err := r.Cookie(loginCSRFCookie)
	if err != nil || subtle.ConstantTimeCompare([]byte(c.Value), []byte(r.FormValue("csrf"))) != 1 {
		u.showLogin(w, r, http.StatusForbidden, r.FormValue("login"), "the form expired; try again")
		return
	}
	r.Header.Del("X-Csrf-Token")
	a := u.call(r, "POST", "/api/v1/login", map[string]string{"login": r.FormValue("login"), "password": r.FormValue("password")})
	if a.Status != http.StatusOK {
		u.showLogin(w, r, a.Status, r.FormValue("login"), a.problem())
		return
	}
	for _, sc := range a.Header.Values("Set-Cookie") {
		w.Header().Add("Set-Cookie", sc)
	}
	http.Redirect(w, r, safeNext(r.FormValue("next")), http.StatusSeeOther)
}

func (u *UI) logout(w http.ResponseWriter, r *http.Request) {
	a := u.call(r, "POST", "/api/v1/logout", nil)
	for _, sc := range a.Header.Values("Set-Cookie") {
		w.Header().Add("Set-Cookie", sc)
	}
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// listData is the conversation list page.
type listData struct {
	View, Number, Tag, Status, Q string
	Items                        []listRow
	Next                         string
	// Query is the filters, for the live refresh and "more": already a URL query
	// (url.Values.Encode), so typed as one; as a string, html/template would escape its
	// "=" and "&" where it stands in a link's query and the link would lose the filters.
	Query template.URL
}

// listQuery maps the page's filters onto the API's.
func listQuery(m *me, q url.Values) (api url.Values, d listData) {
	d = listData{View: q.Get("view"), Number: q.Get("number"), Tag: q.Get("tag"), Status: q.Get("status"), Q: q.Get("q")}
	if d.View == "" {
		d.View = "mine"
	}
	api = url.Values{"limit": {"50"}}
	switch d.View {
	case "mine":
		api.Set("assignee", m.LoginName())
	case "unassigned":
		api.Set("unassigned", "true")
	case "all":
		api.Set("scope", "all")
	}
	for k, v := range map[string]string{"number": d.Number, "tag": d.Tag, "status": d.Status, "q": d.Q, "cursor": q.Get("cursor")} {
		if v != "" {
			api.Set(k, v)
		}
	}
	keep := url.Values{}
	for k, v := range map[string]string{"view": d.View, "number": d.Number, "tag": d.Tag, "status": d.Status, "q": d.Q} {
		if v != "" {
			keep.Set(k, v)
		}
	}
	d.Query = template.URL(keep.Encode())
	return api, d
}

func (u *UI) conversations(w http.ResponseWriter, r *http.Request) {
	m := u.whoami(w, r)
	if m == nil {
		return
	}
	api, d := listQuery(m, r.URL.Query())
	a := u.call(r, "GET", "/api/v1/conversations?"+api.Encode(), nil)
	if a.Status != http.StatusOK {
		u.fail(w, r, m, a)
		return
	}
	var page struct {
		Items      []listItem `json:"items"`
		NextCursor string     `json:"nextCursor"`
	}
	if err := a.decode(&page); err != nil {
		u.fail(w, r, m, apiAnswer{Status: http.StatusBadGateway})
		return
	}
	v := u.newView(r, m, "conversations")
	d.Items, d.Next = listRows(page.Items, v.Now), page.NextCursor
	v.Title, v.Data = v.P.Sprintf("list.title"), d
	u.render(w, r, http.StatusOK, v)
}

// listItem is what the list shows of one of the API's conversations (the JSON of
// runtime/inbox/conversation.View), decoded into a struct rather than a map: decoding
// maps was a fifth of the list's render time (bench/ui, docs/ui.md#performance).
type listItem struct {
	ID            int64      `json:"id"`
	Number        string     `json:"number"`
	WAID          string     `json:"waId"`
	ProfileName   string     `json:"profileName"`
	Status        string     `json:"status"`
	Assignee      string     `json:"assignee"`
	Team          string     `json:"team"`
	LastMessageAt *time.Time `json:"lastMessageAt"`
	WaitingSince  *time.Time `json:"waitingSince"`
	CreatedAt     time.Time  `json:"createdAt"`
}

// listRow is one conversation of the list with its cells worked out in Go, so that the
// template reads fields rather than calling a function per cell: reflected calls were
// most of the list's render time (bench/ui, docs/ui.md#performance). Shown: the contact's
// name (else its number), its number beside a name (WAID), and the waiting time of an
// unassigned conversation (since waitingSince, else createdAt).
type listRow struct {
	ID, Name, WAID, Number, Status, Assignee, Team, Last, Waiting string
}

// listRows turns the API's items into rows, times relative to now.
func listRows(items []listItem, now time.Time) []listRow {
	rows := make([]listRow, len(items))
	for i, c := range items {
		r := listRow{ID: strconv.FormatInt(c.ID, 10), Name: c.ProfileName, Number: c.Number, Status: c.Status,
			Assignee: c.Assignee, Team: c.Team}
		if r.Name == "" {
			r.Name = cmp.Or(c.WAID, "?")
		} else {
			r.WAID = c.WAID
		}
		if c.LastMessageAt != nil {
			r.Last = clock(*c.LastMessageAt, now)
		}
		if r.Assignee == "" {
			r.Waiting = human(now.Sub(*cmp.Or(c.WaitingSince, &c.CreatedAt)))
		}
		rows[i] = r
	}
	return rows
}

// convData is the conversation page.
type convData struct {
	ID        string
	C         map[string]any
	Messages  []map[string]any
	Templates []map[string]any
	CSRF      string
	// Key is this render's Idempotency-Key for the sending forms (the hidden field
	// idem): a form submitted twice sends once (docs/api.md#idempotency).
	Key     string
	Draft   string
	Blocked string
}

func (u *UI) conversation(w http.ResponseWriter, r *http.Request) {
	m := u.whoami(w, r)
	if m == nil {
		return
	}
	u.showConversation(w, r, m, http.StatusOK, "", "")
}

func (u *UI) showConversation(w http.ResponseWriter, r *http.Request, m *me, code int, draft, failure string) {
	id := r.PathValue("id")
	if _, err := strconv.ParseInt(id, 10, 64); err != nil {
		u.fail(w, r, m, apiAnswer{Status: http.StatusNotFound})
		return
	}
	a := u.call(r, "GET", "/api/v1/conversations/"+id, nil)
	if a.Status != http.StatusOK {
		u.fail(w, r, m, a)
		return
	}
	d := convData{ID: id, CSRF: m.CSRFToken, Key: "ui-" + rand.Text(), Draft: draft}
	if err := a.decode(&d.C); err != nil {
		u.fail(w, r, m, apiAnswer{Status: http.StatusBadGateway})
		return
	}
	if msgs, ok := d.C["messages"].([]any); ok {
		for _, x := range msgs {
			if mm, ok := x.(map[string]any); ok {
				d.Messages = append(d.Messages, mm)
			}
		}
	}
	if ts, ok := d.C["templates"].([]any); ok {
		for _, x := range ts {
			if mm, ok := x.(map[string]any); ok {
				d.Templates = append(d.Templates, mm)
			}
		}
	}
	v := u.newView(r, m, "conversation")
	v.Title = v.P.Sprintf("conv.title", contactName(d.C))
	v.Data = d
	if failure != "" {
		v.Error = failure
	}
	u.render(w, r, code, v)
}

// act posts one form of the conversation page to the API and shows the page again:
// after a success with a redirect (so a reload does not post twice), after a refusal
// with the API's reason inline (a blocked word names the rule) and the draft kept.
func (u *UI) act(w http.ResponseWriter, r *http.Request) {
	m := u.whoami(w, r)
	if m == nil {
		return
	}
	id := r.PathValue("id")
	if _, err := strconv.ParseInt(id, 10, 64); err != nil {
		u.fail(w, r, m, apiAnswer{Status: http.StatusNotFound})
		return
	}
	base := "/api/v1/conversations/" + id
	var a apiAnswer
	switch action := r.PathValue("action"); action {
	case "reply":
		a = u.call(r, "POST", base+"/messages", map[string]any{"text": r.FormValue("text")})
	case "template":
		var params []string
		for i := 1; i <= 10; i++ {
			if v, ok := r.Form["param"+strconv.Itoa(i)]; ok {
				params = append(params, v[0])
			}
		}
		name, lang, _ := strings.Cut(r.FormValue("template"), "|")
		a = u.call(r, "POST", base+"/messages", map[string]any{"template": map[string]any{"name": name, "language": lang, "parameters": params}})
	case "note":
		a = u.call(r, "POST", base+"/notes", map[string]any{"text": r.FormValue("text")})
	case "resolve", "reopen", "accept":
		a = u.call(r, "POST", base+"/"+action, map[string]any{})
	case "take": // assign an unassigned conversation to oneself (conversations.assign)
		a = u.call(r, "POST", base+"/assign", map[string]any{"agent": m.LoginName()})
	case "transfer":
		to := strings.TrimSpace(r.FormValue("to"))
		key := "agent"
		if t, ok := strings.CutPrefix(to, "team:"); ok {
			key, to = "team", t
		}
		a = u.call(r, "POST", base+"/transfer", map[string]any{key: to})
	case "priority":
		p, _ := strconv.Atoi(r.FormValue("priority"))
		a = u.call(r, "PUT", base+"/priority", map[string]any{"priority": p})
	case "tags":
		a = u.call(r, "PUT", base+"/tags", map[string]any{"tags": splitTags(r.FormValue("tags"))})
	default:
		u.fail(w, r, m, apiAnswer{Status: http.StatusNotFound})
		return
	}
	if a.Status >= 200 && a.Status < 300 {
		http.Redirect(w, r, "/conversations/"+id, http.StatusSeeOther)
		return
	}
	if a.Status == http.StatusUnauthorized {
		http.Redirect(w, r, "/login?next="+url.QueryEscape("/conversations/"+id), http.StatusSeeOther)
		return
	}
	failure := a.problem()
	if p := a.doc(); p.Field != "" && p.Rule == "" {
		failure = refusal(u.i18n.printer(u.i18n.lang(r)), p, failure)
	}
	u.showConversation(w, r, m, a.Status, r.FormValue("text"), failure)
}

func splitTags(s string) []string {
	out := []string{}
	for _, t := range strings.Split(s, ",") {
		if t = strings.TrimSpace(t); t != "" {
			out = append(out, t)
		}
	}
	return out
}

func (u *UI) availability(w http.ResponseWriter, r *http.Request) {
	m := u.whoami(w, r)
	if m == nil {
		return
	}
	a := u.call(r, "PUT", "/api/v1/me/availability", map[string]string{"availability": r.FormValue("availability")})
	if a.Status >= 300 {
		u.fail(w, r, m, a)
		return
	}
	http.Redirect(w, r, safeNext(r.FormValue("back")), http.StatusSeeOther)
}

func (u *UI) supervisor(w http.ResponseWriter, r *http.Request) {
	m := u.whoami(w, r)
	if m == nil {
		return
	}
	a := u.call(r, "GET", "/api/v1/supervisor", nil)
	if a.Status != http.StatusOK {
		u.fail(w, r, m, a)
		return
	}
	var d map[string]any
	if err := a.decode(&d); err != nil {
		u.fail(w, r, m, apiAnswer{Status: http.StatusBadGateway})
		return
	}
	v := u.newView(r, m, "supervisor")
	v.Title, v.Data = v.P.Sprintf("sup.title"), d
	u.render(w, r, http.StatusOK, v)
}

type adminData struct {
	Agents, Tokens, Audit, Roles []map[string]any
}

// adminSections are the admin page's parts, each shown only to a role holding its
// permission (docs/permissions.md): the agents and the roles to agents.manage (a plain
// agent's agents.read and roles.read serve the transfer picker, not administration), the
// API tokens to tokens.manage, the audit log to audit.read.
var adminSections = []struct {
	perm, path string
	into       func(*adminData) *[]map[string]any
}{
	{"agents.manage", "/api/v1/agents", func(d *adminData) *[]map[string]any { return &d.Agents }},
	{"agents.manage", "/api/v1/roles", func(d *adminData) *[]map[string]any { return &d.Roles }},
	{"tokens.manage", "/api/v1/tokens", func(d *adminData) *[]map[string]any { return &d.Tokens }},
	{"audit.read", "/api/v1/audit?limit=50", func(d *adminData) *[]map[string]any { return &d.Audit }},
}

// CanAdminister reports whether the person may see at least one admin section (the
// navigation shows the admin link only then).
func (m *me) CanAdminister() bool {
	for _, s := range adminSections {
		if m.Can(s.perm) {
			return true
		}
	}
	return false
}

// admin shows the sections the person's role allows; a role allowing none gets the
// forbidden page (403).
func (u *UI) admin(w http.ResponseWriter, r *http.Request) {
	m := u.whoami(w, r)
	if m == nil {
		return
	}
	if !m.CanAdminister() {
		u.fail(w, r, m, apiAnswer{Status: http.StatusForbidden})
		return
	}
	var d adminData
	for _, s := range adminSections {
		if !m.Can(s.perm) {
			continue
		}
		a := u.call(r, "GET", s.path, nil)
		if a.Status != http.StatusOK {
			u.fail(w, r, m, a)
			return
		}
		var page struct {
			Items []map[string]any `json:"items"`
		}
		if err := a.decode(&page); err != nil {
			u.fail(w, r, m, apiAnswer{Status: http.StatusBadGateway})
			return
		}
		*s.into(&d) = page.Items
	}
	v := u.newView(r, m, "admin")
	v.Title, v.Data = v.P.Sprintf("admin.title"), d
	u.render(w, r, http.StatusOK, v)
}

// notFound answers a path no page or API operation serves: the translated not-found
// page (404), with the navigation when someone is signed in; under /api/ an RFC 9457
// problem, as the API answers.
func (u *UI) notFound(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/api/") {
		problem.Respond(w, http.StatusNotFound, "no such API operation: "+r.Method+" "+r.URL.Path)
		return
	}
	u.fail(w, r, u.signedIn(r), apiAnswer{Status: http.StatusNotFound})
}

// contactName is the profile name, else the phone number.
func contactName(c map[string]any) string {
	for _, k := range []string{"profileName", "name", "waId"} {
		if s := str(c, k); s != "" {
			return s
		}
	}
	return "?"
}

// funcs are the templates' helpers.
var funcs = template.FuncMap{
	"str":         str,
	"contactName": contactName,
	"has":         func(m map[string]any, k string) bool { _, ok := m[k]; return ok && m[k] != nil },
	"list":        list,
	"time":        func(m map[string]any, k string, now time.Time) string { return shortTime(m, k, now) },
	"since":       since,
	"until":       until,
	"seconds":     seconds,
	"percent": func(m map[string]any, k string) string {
		f, ok := m[k].(float64)
		if !ok {
			return "—"
		}
		return strconv.FormatFloat(f*100, 'f', 1, 64) + " %"
	},
	// maxParams numbers the parameter fields the template picker needs: as many as the
	// template with the most (app.js shows those of the chosen one).
	"maxParams": func(ts []map[string]any) []int {
		most := 0
		for _, t := range ts {
			if n, _ := t["parameters"].(float64); int(n) > most {
				most = int(n)
			}
		}
		out := make([]int, min(most, 10))
		for i := range out {
			out[i] = i + 1
		}
		return out
	},
	"mul":        func(a, b int) int { return a * b },
	"chartWidth": func(ps []map[string]any) int { return max(10*len(ps), 10) },
	"chartH":     func(p map[string]any) float64 { return chartHeight(p) },
	"chartY":     func(p map[string]any) float64 { return 100 - chartHeight(p) },
	"join": func(v any) string {
		var parts []string
		if xs, ok := v.([]any); ok {
			for _, x := range xs {
				parts = append(parts, fmt.Sprint(x))
			}
		}
		return strings.Join(parts, ", ")
	},
}

// str reads a member of a JSON object as text ("" when absent).
func str(m map[string]any, k string) string {
	switch v := m[k].(type) {
	case nil:
		return ""
	case string:
		return v
	case float64:
		if v == math.Trunc(v) {
			return strconv.FormatInt(int64(v), 10)
		}
		return strconv.FormatFloat(v, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(v)
	default:
		return fmt.Sprint(v)
	}
}

// list reads a member holding an array of objects.
func list(m map[string]any, k string) []map[string]any {
	var out []map[string]any
	if xs, ok := m[k].([]any); ok {
		for _, x := range xs {
			if o, ok := x.(map[string]any); ok {
				out = append(out, o)
			}
		}
	}
	return out
}

func parseTime(m map[string]any, k string) (time.Time, bool) {
	s, _ := m[k].(string)
	t, err := time.Parse(time.RFC3339Nano, s)
	return t, err == nil
}

// shortTime is m[k]'s clock.
func shortTime(m map[string]any, k string, now time.Time) string {
	t, ok := parseTime(m, k)
	if !ok {
		return ""
	}
	return clock(t, now)
}

// clock is the hour for today, else the date and hour, in UTC.
func clock(t, now time.Time) string {
	if t.UTC().Format("2006-01-02") == now.UTC().Format("2006-01-02") {
		return t.UTC().Format("15:04")
	}
	return t.UTC().Format("2006-01-02 15:04")
}

// since is the time from m[k] to now ("3m 20s").
func since(m map[string]any, k string, now time.Time) string {
	t, ok := parseTime(m, k)
	if !ok {
		return ""
	}
	return human(now.Sub(t))
}

// until is the time from now to m[k], or "" when it has passed.
func until(m map[string]any, k string, now time.Time) string {
	t, ok := parseTime(m, k)
	if !ok || !t.After(now) {
		return ""
	}
	return human(t.Sub(now))
}

// seconds shows a number of seconds to the second ("1m 05s").
func seconds(m map[string]any, k string) string {
	f, ok := m[k].(float64)
	if !ok {
		return "—"
	}
	return human(time.Duration(math.Round(f)) * time.Second)
}

func human(d time.Duration) string {
	d = d.Round(time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm %02ds", int(d.Minutes()), int(d.Seconds())%60)
	default:
		return fmt.Sprintf("%dh %02dm", int(d.Hours()), int(d.Minutes())%60)
	}
}

// chartHeight scales a point's open count to the chart's 100 units (50 open fill it).
func chartHeight(p map[string]any) float64 {
	n, _ := p["open"].(float64)
	return math.Min(100, n*2)
}
