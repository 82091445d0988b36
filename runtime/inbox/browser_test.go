package inbox_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/jackc/pgx/v5"

	"github.com/switchboard-dev/switchboard/runtime/inbox"
	"github.com/switchboard-dev/switchboard/runtime/inbox/ui/browsertest"
	"github.com/switchboard-dev/switchboard/runtime/store"
)

// TestInboxInABrowser: the real inbox (PostgreSQL, the agents' API, sessions, live
// events) in a real Chromium. The admin signs in through the page; a customer's message
// containing HTML shows as text and never runs; a new conversation appears in the list
// without a reload; the accessibility checker finds nothing serious on any page.
func TestInboxInABrowser(t *testing.T) {
	dsn := srv.NewDatabase(t)
	snap := served(numA)
	snap.Access.InitialAdminPassword = "acme-admin-password"
	s := startServer(t, dsn, snap, func(o *inbox.Options) { o.Inbox, o.InsecureLoopbackCookies = "support", true })
	waitAdmin(t, s, "acme-admin-password")
	id := seedConversationText(t, dsn, "34600000001", `<img src=x onerror="window.__xss=1">¿precio?`)

	ctx := browsertest.New(t)
	browsertest.Do(t, ctx, "the login page", chromedp.Navigate(s.traffic+"/conversations?view=all"),
		chromedp.WaitVisible(chromedp.CSS("#password")))
	browsertest.NoSeriousViolations(t, ctx, "login")
	browsertest.Screenshot(t, ctx, "inbox-login")
	browsertest.Do(t, ctx, "signing in",
		chromedp.SendKeys(chromedp.CSS("#login"), "admin"),
		chromedp.SendKeys(chromedp.CSS("#password"), "acme-admin-password"),
		chromedp.Submit(chromedp.CSS("#password")),
		chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`tr.row[data-id="%d"]`, id))))
	browsertest.NoSeriousViolations(t, ctx, "conversations")

	// A new customer writes: the list shows it without a reload (live events).
	other := seedConversationText(t, dsn, "34600000002", "hola")
	browsertest.Do(t, ctx, "the new conversation appearing live",
		chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`tr.row[data-id="%d"]`, other))))
	browsertest.Screenshot(t, ctx, "inbox-conversations")

	browsertest.Do(t, ctx, "opening the conversation", chromedp.Click(chromedp.CSS(fmt.Sprintf(`tr.row[data-id="%d"] a`, id))),
		chromedp.WaitVisible(chromedp.CSS(".msg.in .text")))
	text := browsertest.Get(t, ctx, "the customer's message", chromedp.Text(chromedp.CSS(".msg.in .text")))
	if !strings.Contains(text, `<img src=x onerror="window.__xss=1">¿precio?`) {
		t.Errorf("the customer's HTML is not shown as text: %q", text)
	}
	if browsertest.Get(t, ctx, "whether the HTML ran", chromedp.Evaluate[bool](`window.__xss === 1`)) {
		t.Error("the customer's HTML ran in the page")
	}
	browsertest.NoSeriousViolations(t, ctx, "conversation")
	browsertest.Screenshot(t, ctx, "inbox-conversation")
}

// seedConversationText stores a contact, a conversation with an open window and one
// inbound message with text, and returns the conversation's id.
func seedConversationText(t *testing.T, dsn, waID, text string) int64 {
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
			WITH c AS (INSERT INTO contacts (namespace, wa_id) VALUES ('acme', $1) RETURNING id),
			v AS (INSERT INTO conversations (namespace, number, contact_id, last_message_at, window_expires_at)
			      SELECT 'acme', $3, id, now(), now() + interval '24 hours' FROM c RETURNING id),
			m AS (INSERT INTO messages (namespace, conversation_id, direction, wamid, type, text, content, status)
			      SELECT 'acme', id, 'in', 'wamid.' || $1, 'text', $2, '{}', 'received' FROM v)
			SELECT id FROM v`, waID, text, numA.Ref.Name).Scan(&id)
	})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// waitAdmin waits until the inbox has made the initial admin account.
func waitAdmin(t *testing.T, s *server, password string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, body, _ := call(t, "POST", s.traffic+"/api/v1/login", fmt.Sprintf(`{"login":"admin","password":%q}`, password))
		if code == 200 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("admin login: %d %s", code, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
