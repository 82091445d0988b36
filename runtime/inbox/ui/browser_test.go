package ui

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/switchboard-dev/switchboard/runtime/inbox/ui/browsertest"
)

// TestPagesInABrowser renders the pages in a real Chromium (with the canned API of
// ui_test.go): accessibility checked by axe-core, a customer's HTML shown as text and
// never run, the keyboard shortcuts, the template picker, and the phone-sized layout.
func TestPagesInABrowser(t *testing.T) {
	signedOut, signedIn := serve(t, false), serve(t, true)
	ctx := browsertest.New(t)

	browsertest.Do(t, ctx, "the login page", chromedp.Navigate(signedOut.URL+"/login"), chromedp.WaitVisible(chromedp.CSS("#password")))
	browsertest.NoSeriousViolations(t, ctx, "login")
	browsertest.Screenshot(t, ctx, "unit-login")

	browsertest.Do(t, ctx, "the list", chromedp.Navigate(signedIn.URL+"/conversations"), chromedp.WaitVisible(chromedp.CSS("tr.row")))
	browsertest.NoSeriousViolations(t, ctx, "conversations")
	browsertest.Do(t, ctx, "j selects the first conversation", chromedp.KeyEvent("j"), chromedp.WaitVisible(chromedp.CSS("tr.row.current")))

	browsertest.Do(t, ctx, "a conversation", chromedp.Navigate(signedIn.URL+"/conversations/7"), chromedp.WaitVisible(chromedp.CSS("#reply-text")))
	browsertest.NoSeriousViolations(t, ctx, "conversation")
	text := browsertest.Get(t, ctx, "the customer's message", chromedp.Text(chromedp.CSS(".msg.in .text")))
	if !strings.Contains(text, "<script>alert('x')</script><img src=x") {
		t.Errorf("the customer's HTML is not shown as text: %q", text)
	}
	if ran := browsertest.Get(t, ctx, "whether the HTML ran", chromedp.Evaluate[bool](`window.__xss === 1`)); ran {
		t.Error("the customer's HTML ran in the page")
	}
	browsertest.Do(t, ctx, "r focuses the reply", chromedp.KeyEvent("r"))
	if id := browsertest.Get(t, ctx, "the focus", chromedp.Evaluate[string](`document.activeElement.id`)); id != "reply-text" {
		t.Errorf("after r the focus is on %q", id)
	}
	browsertest.Screenshot(t, ctx, "unit-conversation")

	browsertest.Do(t, ctx, "a conversation on a phone", browsertest.Phone(), chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("#reply-text")))
	if wide := browsertest.Get(t, ctx, "the page's width", chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth + 1`)); wide {
		t.Error("the conversation page scrolls sideways on a phone")
	}
	browsertest.Screenshot(t, ctx, "unit-conversation-phone")
	browsertest.Do(t, ctx, "back to the desktop", browsertest.Desktop())

	browsertest.Do(t, ctx, "a closed window", chromedp.Navigate(signedIn.URL+"/conversations/8"), chromedp.WaitVisible(chromedp.CSS("#template")))
	visible := `!document.querySelector('.param[data-n="1"]').hidden`
	if browsertest.Get(t, ctx, "the parameter field of hello_world", chromedp.Evaluate[bool](visible)) {
		t.Error("hello_world has no parameter, yet its field shows")
	}
	browsertest.Do(t, ctx, "choosing order_update", chromedp.SetValue(chromedp.CSS("#template"), "order_update|en_US"),
		chromedp.Evaluate[chromedp.Void](`document.getElementById('template').dispatchEvent(new Event('change'))`))
	if !browsertest.Get(t, ctx, "the parameter field of order_update", chromedp.Evaluate[bool](visible)) {
		t.Error("order_update's parameter field does not show")
	}
	browsertest.NoSeriousViolations(t, ctx, "template picker")
}
