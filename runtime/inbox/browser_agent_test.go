package inbox_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/jackc/pgx/v5"

	"github.com/switchboard-dev/switchboard/runtime/inbox/ui/browsertest"
	"github.com/switchboard-dev/switchboard/runtime/whatsapp"
)

// TestAgentRepliesInABrowser: an agent (role agent) works a day's cases in a real
// Chromium against the real inbox, sender and simulator:
//   - the availability switch shows the agent's availability (offline) and sets it online;
//   - a customer writes through the simulator; the conversation, routed to the agent,
//     appears in the list without a reload; the agent opens it and replies through the
//     page; the reply reaches the simulator, and its ticks go sent → delivered → read as
//     the simulator's status webhooks arrive, without a reload;
//   - a reply with a sensitive word (an Outbound KeywordRule) shows the rule and its
//     reason inline, keeps the draft, and nothing reaches the outbox or the simulator;
//   - outside the 24-hour window the reply box offers the templates; order_update with its
//     two parameters filled in reaches the simulator with them.
func TestAgentRepliesInABrowser(t *testing.T) {
	r := newBrowserRig(t)
	ctx := browsertest.New(t)
	r.signInPage(ctx, "/conversations", "ana", password("ana"))

	// The availability switch: offline until set, then online.
	if v := browsertest.Get(t, ctx, "the availability switch", chromedp.Value(chromedp.CSS("#availability"))); v != "offline" {
		t.Errorf("the switch shows %q for an agent who never set it, want offline", v)
	}
	mark(t, ctx)
	browsertest.Do(t, ctx, "going online", chromedp.SetValue(chromedp.CSS("#availability"), "online"),
		chromedp.Click(chromedp.CSS(`form[action="/availability"] button`)))
	until(t, ctx, "the page again, with the switch online", `window.__notReloaded !== true && document.readyState === 'complete' && (document.getElementById('availability') || {}).value === 'online'`)
	if body := r.api(r.signIn("ana", password("ana")), "GET", "/api/v1/me", "", 200); !strings.Contains(body, `"availability":"online"`) {
		t.Errorf("/api/v1/me after the switch: %s", body)
	}
	browsertest.NoSeriousViolations(t, ctx, "conversations (agent)")

	// A customer writes: routed to ana, in her list without a reload.
	mark(t, ctx)
	id := r.customerWrites("34611111111", "hola, ¿tenéis la talla 42?")
	row := fmt.Sprintf(`tr.row[data-id="%d"]`, id)
	browsertest.Do(t, ctx, "the routed conversation appearing live", chromedp.WaitVisible(chromedp.CSS(row)))
	notReloaded(t, ctx, "the new conversation")
	browsertest.Screenshot(t, ctx, "inbox-agent-list")

	// The reply, through the page, to the simulator; its ticks live.
	browsertest.Do(t, ctx, "opening the conversation", chromedp.Click(chromedp.CSS(row+" a")), chromedp.WaitVisible(chromedp.CSS("#reply-text")))
	browsertest.Do(t, ctx, "replying", chromedp.SendKeys(chromedp.CSS("#reply-text"), "Sí, la tenemos en azul"),
		chromedp.Click(chromedp.CSS(`form.reply button:not(.secondary)`)),
		chromedp.WaitVisible(chromedp.CSS(".msg.out")))
	mark(t, ctx)
	// Every tick the page shows, as it shows it.
	browsertest.Do(t, ctx, "recording the ticks", chromedp.Evaluate[chromedp.Void](`(() => {
		window.__ticks = [];
		const rec = () => {
			const el = document.querySelector('.msg.out .tick');
			const c = el ? [...el.classList].filter(x => x !== 'tick').join(' ') : '';
			if (window.__ticks[window.__ticks.length - 1] !== c) window.__ticks.push(c);
		};
		rec();
		new MutationObserver(rec).observe(document.getElementById('messages'), {subtree: true, childList: true, characterData: true, attributes: true});
	})()`))
	got := r.waitSent("34611111111", func(m whatsapp.Message) bool { return m.Text != nil })
	if got.Text.Body != "Sí, la tenemos en azul" {
		t.Errorf("the simulator received %q", got.Text.Body)
	}
	until(t, ctx, "the read tick", `window.__ticks.includes('read')`)
	ticks := browsertest.Get(t, ctx, "the ticks shown", chromedp.Evaluate[[]string](`window.__ticks`))
	var shown []string
	for _, c := range ticks {
		if c == "sent" || c == "delivered" || c == "read" {
			shown = append(shown, c)
		}
	}
	if strings.Join(shown, " → ") != "sent → delivered → read" {
		t.Errorf("the page showed the ticks %q, want sent → delivered → read", ticks)
	}
	notReloaded(t, ctx, "the ticks")
	if s := text(t, ctx, ".msg.out .text"); s != "Sí, la tenemos en azul" {
		t.Errorf("the page shows the reply as %q", s)
	}
	browsertest.NoSeriousViolations(t, ctx, "conversation (agent)")
	browsertest.Screenshot(t, ctx, "inbox-agent-reply-read")

	// A sensitive word: the block inline with the rule and its reason; nothing sent.
	outbox := r.count(`SELECT count(*) FROM outbox`)
	atSim := len(r.sent())
	draft := "Dame el número de tu tarjeta, por favor"
	browsertest.Do(t, ctx, "replying with a blocked word", chromedp.SendKeys(chromedp.CSS("#reply-text"), draft),
		chromedp.Click(chromedp.CSS(`form.reply button:not(.secondary)`)),
		chromedp.WaitVisible(chromedp.CSS("p.error")))
	if e := text(t, ctx, "p.error"); !strings.Contains(e, "no-card-numbers") || !strings.Contains(e, blockReason) || !strings.Contains(e, "tarjeta") {
		t.Errorf("the block shows %q, want the rule, the word and the reason %q", e, blockReason)
	}
	if v := browsertest.Get(t, ctx, "the draft", chromedp.Value(chromedp.CSS("#reply-text"))); v != draft {
		t.Errorf("the draft after the block is %q", v)
	}
	browsertest.NoSeriousViolations(t, ctx, "blocked reply")
	browsertest.Screenshot(t, ctx, "inbox-agent-blocked")
	if n := r.count(`SELECT count(*) FROM outbox`); n != outbox {
		t.Errorf("the blocked reply reached the outbox: %d rows, was %d", n, outbox)
	}
	if n := len(r.sent()); n != atSim {
		t.Errorf("the simulator received %d messages after the block, was %d", n, atSim)
	}

	// Outside the window: the template picker; order_update with its parameters.
	late := r.customerWrites("34622222222", "¿dónde está mi pedido?")
	if err := r.outbox.InTx(context.Background(), func(tx pgx.Tx) error {
		_, err := tx.Exec(context.Background(), `UPDATE conversations SET window_expires_at = now() - interval '1 hour' WHERE id = $1`, late)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	browsertest.Do(t, ctx, "the conversation with a closed window", chromedp.Navigate(fmt.Sprintf("%s/conversations/%d", r.s.traffic, late)),
		chromedp.WaitVisible(chromedp.CSS("#template")))
	if browsertest.Get(t, ctx, "a free-text reply box", chromedp.Evaluate[bool](`document.getElementById('reply-text') !== null`)) {
		t.Error("a closed window still offers free text")
	}
	browsertest.Do(t, ctx, "choosing order_update", chromedp.SetValue(chromedp.CSS("#template"), "order_update|en_US"),
		chromedp.Evaluate[chromedp.Void](`document.getElementById('template').dispatchEvent(new Event('change'))`),
		chromedp.WaitVisible(chromedp.CSS("#param2")),
		chromedp.SendKeys(chromedp.CSS("#param1"), "A-1001"),
		chromedp.SendKeys(chromedp.CSS("#param2"), "Friday"))
	browsertest.NoSeriousViolations(t, ctx, "template picker")
	browsertest.Screenshot(t, ctx, "inbox-agent-template")
	browsertest.Do(t, ctx, "sending the template", chromedp.Click(chromedp.CSS(`form.template-picker button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(".msg.out")))
	tpl := r.waitSent("34622222222", func(m whatsapp.Message) bool { return m.Template != nil })
	var params []string
	for _, c := range tpl.Template.Components {
		for _, p := range c.Parameters {
			params = append(params, p.Text)
		}
	}
	if tpl.Template.Name != "order_update" || tpl.Template.Language.Code != "en_US" || strings.Join(params, ",") != "A-1001,Friday" {
		t.Errorf("the simulator received template %s (%s) with %q", tpl.Template.Name, tpl.Template.Language.Code, params)
	}
}
