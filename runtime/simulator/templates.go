package simulator

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/switchboard-dev/switchboard/runtime/whatsapp"
)

// Template is a message template of a WhatsApp Business Account, as Graph's
// GET /{waba-id}/message_templates lists it (Meta: "WhatsApp Business Account >
// Message Templates", graph-api/reference/whats-app-business-account/message_templates).
//
// When a WABA has at least one template, sending a template message from one
// of its numbers checks the template as Meta does: an unknown name or
// language, or a template not APPROVED, fails with 132001; a body or header
// whose parameter count differs from its {{n}} placeholders fails with 132000.
// A WABA without templates accepts any template (the simulator's behaviour
// before templates existed).
type Template struct {
	// BusinessAccountID is the WABA that owns the template; empty means every WABA.
	BusinessAccountID string `json:"businessAccountID,omitempty"`
	ID                string `json:"id,omitempty"`       // derived from the name and language if empty
	Name              string `json:"name"`               // e.g. order_update
	Language          string `json:"language"`           // e.g. en_US, es
	Status            string `json:"status,omitempty"`   // APPROVED (default), PENDING, REJECTED, PAUSED, DISABLED
	Category          string `json:"category,omitempty"` // MARKETING (default), UTILITY, AUTHENTICATION
	// Components are the template's parts; Graph lists them with upper-case
	// types (HEADER, BODY, FOOTER, BUTTONS).
	Components []TemplateComponent `json:"components,omitempty"`
}

// TemplateComponent is one part of a Template. Text may hold numbered
// placeholders {{1}}, {{2}}…
type TemplateComponent struct {
	Type   string `json:"type"`             // HEADER, BODY, FOOTER, BUTTONS
	Format string `json:"format,omitempty"` // HEADER: TEXT, IMAGE, VIDEO, DOCUMENT
	Text   string `json:"text,omitempty"`
}

var (
	templateStatuses   = []string{"APPROVED", "PENDING", "REJECTED", "PAUSED", "DISABLED", "IN_APPEAL", "LIMIT_EXCEEDED"}
	templateCategories = []string{"MARKETING", "UTILITY", "AUTHENTICATION"}
	templateComponents = []string{"HEADER", "BODY", "FOOTER", "BUTTONS"}
)

func (t Template) withDefaults(src source) Template {
	t.Status = strings.ToUpper(orStr(t.Status, "APPROVED"))
	t.Category = strings.ToUpper(orStr(t.Category, "MARKETING"))
	for i := range t.Components {
		t.Components[i].Type = strings.ToUpper(t.Components[i].Type)
		t.Components[i].Format = strings.ToUpper(t.Components[i].Format)
	}
	if t.ID == "" {
		t.ID = src.digits("template:"+t.BusinessAccountID+"/"+t.Name+"/"+t.Language, 0, 15)
	}
	return t
}

func (t Template) validate() error {
	if t.Name == "" || t.Language == "" {
		return fmt.Errorf("template %q: name and language are required", t.Name+"/"+t.Language)
	}
	if !slices.Contains(templateStatuses, t.Status) {
		return fmt.Errorf("template %s/%s: unknown status %q", t.Name, t.Language, t.Status)
	}
	if !slices.Contains(templateCategories, t.Category) {
		return fmt.Errorf("template %s/%s: unknown category %q", t.Name, t.Language, t.Category)
	}
	for _, c := range t.Components {
		if !slices.Contains(templateComponents, c.Type) {
			return fmt.Errorf("template %s/%s: unknown component type %q", t.Name, t.Language, c.Type)
		}
	}
	return nil
}

// params returns the number of parameters the component of type typ expects
// (whatsapp.MessageTemplate.Params: its distinct {{n}} placeholders).
func (t Template) params(typ string) int {
	wt := whatsapp.MessageTemplate{}
	for _, c := range t.Components {
		wt.Components = append(wt.Components, whatsapp.MessageTemplateSection{Type: c.Type, Text: c.Text})
	}
	return wt.Params(typ)
}

// graphJSON is the template as Graph lists it.
func (t Template) graphJSON() map[string]any {
	comps := make([]map[string]any, 0, len(t.Components))
	for _, c := range t.Components {
		m := map[string]any{"type": c.Type}
		if c.Format != "" {
			m["format"] = c.Format
		}
		if c.Text != "" {
			m["text"] = c.Text
		}
		comps = append(comps, m)
	}
	return map[string]any{"id": t.ID, "name": t.Name, "language": t.Language, "status": t.Status,
		"category": t.Category, "components": comps}
}

// templatesOf returns the templates of a WABA in registration order (s.mu held).
func (s *Server) templatesOf(waba string) []Template {
	var out []Template
	for _, t := range s.templates {
		if t.BusinessAccountID == "" || t.BusinessAccountID == waba {
			out = append(out, t)
		}
	}
	return out
}

// PutTemplate registers t, or replaces the template of the same WABA, name
// and language.
func (s *Server) PutTemplate(t Template) error {
	t = t.withDefaults(s.rnd)
	if err := t.validate(); err != nil {
		return fmt.Errorf("simulator: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, old := range s.templates {
		if old.BusinessAccountID == t.BusinessAccountID && old.Name == t.Name && old.Language == t.Language {
			s.templates[i] = t
			return nil
		}
	}
	s.templates = append(s.templates, t)
	return nil
}

// checkTemplateSend checks a template message against the templates of the
// sending number's WABA (see Template). st's fields are read under s.mu.
func (s *Server) checkTemplateSend(st *numberState, body map[string]any) *graphError {
	tpl := param{v: body["template"], path: "template"}
	name, lang := tpl.at("name").str(), tpl.at("language").at("code").str()
	s.mu.Lock()
	all := s.templatesOf(st.BusinessAccountID)
	s.mu.Unlock()
	if len(all) == 0 {
		return nil
	}
	i := slices.IndexFunc(all, func(t Template) bool { return t.Name == name && t.Language == lang })
	if i < 0 || all[i].Status != "APPROVED" {
		// Meta answers 132001 with HTTP 404 (as clients in the wild record it).
		return &graphError{HTTP: http.StatusNotFound, Code: 132001, Type: "OAuthException",
			Message: "(#132001) Template name does not exist in the translation",
			Details: fmt.Sprintf("template name (%s) does not exist in %s", name, lang)}
	}
	sent := map[string]int{}
	for _, c := range tpl.at("components").items() {
		sent[strings.ToUpper(c.at("type").str())] += len(c.at("parameters").items())
	}
	for _, typ := range []string{"HEADER", "BODY"} {
		if want := all[i].params(typ); sent[typ] != want {
			return &graphError{HTTP: http.StatusBadRequest, Code: 132000, Type: "OAuthException",
				Message: "(#132000) Number of parameters does not match the expected number of params",
				Details: fmt.Sprintf("%s: number of localizable_params (%d) does not match the expected number of params (%d)",
					strings.ToLower(typ), sent[typ], want)}
		}
	}
	return nil
}

// handleTemplates serves GET /{version}/{waba-id}/message_templates: the
// WABA's templates, filtered by name, status, category and language, in pages
// of `limit` (default 25, at most 1,000) with Graph's cursor paging.
func (s *Server) handleTemplates(w http.ResponseWriter, r *http.Request) {
	version, waba := r.PathValue("version"), r.PathValue("pnid")
	if r.PathValue("edge") != "message_templates" {
		s.writeGraphError(w, errUnknownPath(r.URL.Path))
		return
	}
	s.graphHeaders(w, version)
	if gerr := s.authorizeWABA(r, waba); gerr != nil {
		s.writeGraphError(w, gerr)
		return
	}
	q := r.URL.Query()
	limit := 25
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 || n > 1000 {
			s.writeGraphError(w, errParam("Param limit must be an integer from 1 to 1000."))
			return
		}
		limit = n
	}
	start := 0
	if v := q.Get("after"); v != "" {
		n, err := decodeCursor(v)
		if err != nil {
			s.writeGraphError(w, errParam("Param after is not a valid cursor."))
			return
		}
		start = n
	}
	s.mu.Lock()
	all := s.templatesOf(waba)
	s.mu.Unlock()
	var match []Template
	for _, t := range all {
		if keep(q.Get("name"), t.Name) && keep(q.Get("status"), t.Status) &&
			keep(q.Get("category"), t.Category) && keep(q.Get("language"), t.Language) {
			match = append(match, t)
		}
	}
	start = min(start, len(match))
	end := min(start+limit, len(match))
	data := make([]map[string]any, 0, end-start)
	for _, t := range match[start:end] {
		data = append(data, t.graphJSON())
	}
	out := map[string]any{"data": data}
	if end > start {
		paging := map[string]any{"cursors": map[string]string{"before": encodeCursor(start), "after": encodeCursor(end)}}
		if end < len(match) {
			next := *r.URL
			nq := next.Query()
			nq.Set("after", encodeCursor(end))
			next.RawQuery = nq.Encode()
			paging["next"] = "http://" + r.Host + next.RequestURI()
		}
		out["paging"] = paging
	}
	writeJSON(w, http.StatusOK, out)
}

// keep reports whether v passes filter, a comma-separated list (empty: all).
func keep(filter, v string) bool {
	if filter == "" {
		return true
	}
	return slices.ContainsFunc(strings.Split(filter, ","), func(f string) bool {
		return strings.EqualFold(strings.TrimSpace(f), v)
	})
}

func encodeCursor(i int) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.Itoa(i)))
}

func decodeCursor(c string) (int, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(string(b))
	if err != nil || n < 0 {
		return 0, fmt.Errorf("bad cursor %q", c)
	}
	return n, nil
}

// authorizeWABA checks the version and the bearer token for a WABA node: the
// WABA must own a registered number, and the token must be one of its
// numbers' (or the default token).
func (s *Server) authorizeWABA(r *http.Request, waba string) *graphError {
	if !versionPattern.MatchString(r.PathValue("version")) {
		return errUnknownPath(r.URL.Path)
	}
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || strings.TrimSpace(token) == "" {
		return errNoToken()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	found := false
	for _, st := range s.numbers {
		if st.BusinessAccountID != waba {
			continue
		}
		found = true
		if want := orStr(st.AccessToken, s.cfg.AccessToken); want == "" || token == want {
			return nil
		}
	}
	if !found {
		return errUnknownObject("get", waba)
	}
	return errBadToken()
}
