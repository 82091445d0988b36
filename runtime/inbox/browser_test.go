package inbox_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/switchboard-dev/switchboard/runtime/inbox"
	"github.com/switchboard-dev/switchboard/runtime/inbox/ui/browsertest"
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
	adminSession(t, s, "acme-admin-password") // the inbox has made the account
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

// seedConversationText stores a contact, a conversation of numA with an open window and
// one inbound message with text, and returns the conversation's id.
func seedConversationText(t *testing.T, dsn, waID, text string) int64 {
	t.Helper()
	return seedConversationOf(t, dsn, "acme", numA.Ref.Name, waID, text, true)
}
