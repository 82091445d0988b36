package sender

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/switchboard-dev/switchboard/runtime/inbox/conversation"
	"github.com/switchboard-dev/switchboard/runtime/outbound"
	"github.com/switchboard-dev/switchboard/runtime/phone"
	"github.com/switchboard-dev/switchboard/runtime/store"
	"github.com/switchboard-dev/switchboard/runtime/whatsapp"
)

// sendFlags are the flags of `switchboard send`.
type sendFlags struct {
	number, to, text, template, language, lane string
	wait                                       time.Duration
	forceWindow                                bool
}

func (f *sendFlags) parse(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("switchboard send", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&f.number, "number", "", "the Number to send from, as NAMESPACE/NAME (required)")
	fs.StringVar(&f.to, "to", "", "the recipient: +, country code and number (spaces, hyphens, parentheses allowed), or a wa_id (required)")
	fs.StringVar(&f.text, "text", "", "a free-form text (only inside the 24-hour customer-service window)")
	fs.StringVar(&f.template, "template", "", "an approved template's name (business-initiated)")
	fs.StringVar(&f.language, "language", "en", "the template's language code")
	fs.StringVar(&f.lane, "lane", "", "conversation or campaign (default: conversation for --text, campaign for --template)")
	fs.DurationVar(&f.wait, "wait", 0, "follow the message until it is sent or failed, for at most this long")
	fs.BoolVar(&f.forceWindow, "force-window", false, "enqueue --text even when no stored conversation shows an open customer-service window (Meta answers 131047 if it is closed)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if _, err := ParseNumberRef(f.number); err != nil {
		return err
	}
	switch {
	case f.to == "":
		return errors.New("--to is required")
	case (f.text == "") == (f.template == ""):
		return errors.New("give exactly one of --text and --template")
	}
	to, err := phone.Canonical(f.to)
	if err != nil {
		return fmt.Errorf("--to: %w", err)
	}
	f.to = to
	return nil
}

// message builds the enqueued message from the flags.
func (f *sendFlags) message() (store.NewMessage, error) {
	ref, _ := ParseNumberRef(f.number)
	m, lane := whatsapp.TextMessage(f.to, f.text), store.LaneConversation
	if f.template != "" {
		m, lane = whatsapp.TemplateMessage(f.to, f.template, f.language), store.LaneCampaign
	}
	if f.lane != "" {
		lane = store.Lane(f.lane)
	}
	payload, err := m.Payload()
	return store.NewMessage{Number: ref, Recipient: f.to, Lane: lane, Payload: payload}, err
}

// SendMain runs `switchboard send`: it enqueues one message through the same store API
// the inbox uses, prints its id and, with --wait, follows it to sent or failed.
func SendMain(ctx context.Context, args []string, stdout io.Writer) error {
	var f sendFlags
	if err := f.parse(args, stdout); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	msg, err := f.message()
	if err != nil {
		return err
	}
	dsn := os.Getenv(DatabaseURLEnv)
	if dsn == "" {
		return fmt.Errorf("%s is not set: give the PostgreSQL DSN", DatabaseURLEnv)
	}
	st, err := store.Open(ctx, dsn)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := f.checkWindow(ctx, st, msg.Number); err != nil {
		return err
	}
	id, err := st.Enqueue(ctx, msg)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, id)
	if f.wait <= 0 {
		return nil
	}
	return follow(ctx, st, id, f.wait, stdout)
}

// checkWindow refuses a free-form --text, before anything is enqueued, unless the
// customer wrote to the Number within the last 24 hours (conversation.CheckFreeForm on
// the inbox's conversations; Meta, "Customer service windows"): outside the window, or
// when the customer never wrote (or no inbox stores the Number's conversations), Meta
// would refuse it with error 131047. --force-window skips the check.
func (f *sendFlags) checkWindow(ctx context.Context, st *store.Store, ref store.NumberRef) error {
	if f.text == "" || f.forceWindow {
		return nil
	}
	err := st.InTx(ctx, func(tx pgx.Tx) error { return conversation.CheckFreeForm(ctx, tx, ref, f.to, time.Now()) })
	if errors.Is(err, conversation.ErrWindowClosed) {
		return fmt.Errorf("--text to %s from %s refused, nothing enqueued: %w (no stored conversation shows the customer writing in the last 24 hours; --force-window enqueues it anyway)", f.to, ref, err)
	}
	return err
}

// follow polls the message until it is sent or failed.
func follow(ctx context.Context, st *store.Store, id int64, limit time.Duration, out io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	for {
		m, err := st.Get(ctx, id)
		if err != nil {
			return err
		}
		switch m.State {
		case store.StateSent:
			fmt.Fprintf(out, "sent %s\n", m.WAMID)
			return nil
		case store.StateFailed:
			return failedError(m)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("message %d is still %s after %s", id, m.State, limit)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// failedError says why a message failed: the rule that blocked it (never sent to Meta),
// or Meta's error code and message.
func failedError(m store.Message) error {
	if m.ErrorCode == outbound.BlockedCode {
		return fmt.Errorf("message %d not sent: %s", m.ID, m.ErrorMessage)
	}
	return fmt.Errorf("message %d failed: code %d: %s", m.ID, m.ErrorCode, m.ErrorMessage)
}
