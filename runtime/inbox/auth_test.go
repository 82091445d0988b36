package inbox_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/switchboard-dev/switchboard/runtime/inbox"
	"github.com/switchboard-dev/switchboard/runtime/inbox/auth"
	"github.com/switchboard-dev/switchboard/runtime/inbox/kube"
	"github.com/switchboard-dev/switchboard/runtime/inbox/openapi/openapitest"
	"github.com/switchboard-dev/switchboard/runtime/store"
)

// call sends a request with an optional session cookie or bearer token and returns the
// status and body.
func call(t *testing.T, method, url, body string, header ...string) (int, string, *http.Response) {
	t.Helper()
	return callWith(t, openapitest.Client(t), method, url, body, header...)
}

// callUnchecked is call without the OpenAPI check, for requests the document must not
// have (an unknown path).
func callUnchecked(t *testing.T, method, url, body string, header ...string) (int, string, *http.Response) {
	t.Helper()
	return callWith(t, http.DefaultClient, method, url, body, header...)
}

func callWith(t *testing.T, c *http.Client, method, url, body string, header ...string) (int, string, *http.Response) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = res.Body.Close() }()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b), res
}

// adminSession logs in as the initial admin (made by the inbox from the snapshot's
// initial admin password, once it has started) and returns the Cookie header value.
func adminSession(t *testing.T, s *server, password string) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, body, res := call(t, "POST", s.traffic+"/api/v1/login", fmt.Sprintf(`{"login":"admin","password":%q}`, password))
		if code == 200 {
			for _, c := range res.Cookies() {
				if c.Name == auth.SessionCookie || c.Name == auth.InsecureSessionCookie {
					return c.Name + "=" + c.Value
				}
			}
			t.Fatalf("no session cookie: %v", res.Cookies())
		}
		if time.Now().After(deadline) {
			t.Fatalf("admin login: %d %s", code, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// An agent of one Inbox is nobody to another namespace's inbox on the same database,
// and that inbox does not show the first one's conversations, even by id. The static
// read token keeps working beside the accounts.
func TestAgentsTenantIsolation(t *testing.T) {
	dsn := srv.NewDatabase(t)
	snapA := served(numA)
	snapA.Access.InitialAdminPassword = "acme-admin-password"
	snapB := kube.NewSnapshot("globex", nil)
	snapB.Access.InitialAdminPassword = "globex-admin-password"
	a := startServer(t, dsn, snapA, func(o *inbox.Options) { o.Inbox = "support" })
	b := startServer(t, dsn, snapB, func(o *inbox.Options) { o.Namespace, o.Inbox, o.APIToken = "globex", "support", "" })
	cookieA := adminSession(t, a, "acme-admin-password")
	cookieB := adminSession(t, b, "globex-admin-password")

	id := seedConversation(t, dsn, "acme")
	msgs := fmt.Sprintf("/api/v1/conversations/%d/messages", id)
	if code, body, _ := call(t, "GET", a.traffic+msgs, "", "Cookie", cookieA); code != 200 || !strings.Contains(body, "hola") {
		t.Fatalf("acme's admin reads acme's conversation: %d %s", code, body)
	}
	if code, body, _ := call(t, "GET", a.traffic+msgs, "", "Authorization", "Bearer "+token); code != 200 || !strings.Contains(body, "hola") {
		t.Fatalf("the static token: %d %s", code, body)
	}
	if code, body, _ := call(t, "GET", b.traffic+msgs, "", "Cookie", cookieB); code != 404 {
		t.Fatalf("globex's admin guessing acme's conversation id: %d %s", code, body)
	}
	if code, body, _ := call(t, "GET", b.traffic+"/api/v1/conversations", "", "Cookie", cookieB); code != 200 || strings.Contains(body, "34600000001") {
		t.Fatalf("globex's list: %d %s", code, body)
	}
	for _, path := range []string{msgs, "/api/v1/conversations", "/api/v1/agents", "/api/v1/me"} {
		if code, body, _ := call(t, "GET", b.traffic+path, "", "Cookie", cookieA); code != 401 {
			t.Errorf("acme's session on globex %s: %d %s", path, code, body)
		}
	}
	if code, _, _ := call(t, "GET", b.traffic+"/api/v1/conversations", "", "Authorization", "Bearer "+token); code != 401 {
		t.Errorf("acme's static token on globex: %d", code)
	}
	var me struct{ Namespace, Inbox, Subject string }
	_, body, _ := call(t, "GET", a.traffic+"/api/v1/me", "", "Cookie", cookieA)
	if err := json.Unmarshal([]byte(body), &me); err != nil || me.Namespace != "acme" || me.Inbox != "support" || me.Subject != "admin" {
		t.Fatalf("me: %s", body)
	}
}

// seedConversation stores a contact, a conversation of sales-es and one inbound message.
func seedConversation(t *testing.T, dsn, namespace string) int64 {
	t.Helper()
	return seedConversationOf(t, dsn, namespace, "sales-es", "34600000001", "hola", false)
}

// seedConversationOf stores a contact waID, a conversation of the Number named number
// (its window open for 24 hours when window) and one inbound text message, and returns
// the conversation's id.
func seedConversationOf(t *testing.T, dsn, namespace, number, waID, text string, window bool) int64 {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var id int64
	err = st.InTx(ctx, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `
			WITH c AS (INSERT INTO contacts (namespace, wa_id) VALUES ($1, $2) RETURNING id),
			v AS (INSERT INTO conversations (namespace, number, contact_id, last_message_at, window_expires_at)
			      SELECT $1, $3, id, now(), CASE WHEN $5 THEN now() + interval '24 hours' END FROM c RETURNING id),
			m AS (INSERT INTO messages (namespace, conversation_id, direction, wamid, type, text, content, status)
			      SELECT $1, id, 'in', 'wamid.' || $2, 'text', $4, '{}', 'received' FROM v)
			SELECT id FROM v`, namespace, waID, number, text, window).Scan(&id)
	})
	if err != nil {
		t.Fatal(err)
	}
	return id
}
