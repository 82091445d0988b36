package ingest_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/switchboard-dev/switchboard/runtime/inbox/conversation"
	"github.com/switchboard-dev/switchboard/runtime/store"
	"github.com/switchboard-dev/switchboard/runtime/whatsapp"
)

// autoReply opens a conversation with a customer message and records an outbound reply
// in it, as the inbox does; it returns the outbox id.
func (r *rig) autoReply(from, wamid string) int64 {
	r.t.Helper()
	r.postSigned(textBody(numA, from, "hola", wamid), numA.AppSecret, http.StatusOK)
	var id int64
	err := r.st.InTx(ctxOf(r.t), func(tx pgx.Tx) error {
		contact, err := conversation.UpsertContact(ctxOf(r.t), tx, "acme", from, "")
		if err != nil {
			return err
		}
		c, err := conversation.Open(ctxOf(r.t), tx, numA.Ref, contact)
		if err != nil {
			return err
		}
		id, err = conversation.Send(ctxOf(r.t), tx, c, from, conversation.TextReply("¡Hola!", "test"))
		return err
	})
	if err != nil {
		r.t.Fatal(err)
	}
	return id
}

// markSent records Meta's wamid for an outbox row the way the sender does.
func (r *rig) markSent(id int64, wamid string) {
	r.t.Helper()
	lock, err := r.st.LockNumber(ctxOf(r.t), numA.Ref)
	if err != nil {
		r.t.Fatal(err)
	}
	defer func() { _ = lock.Release(ctxOf(r.t)) }()
	if _, err := lock.Claim(ctxOf(r.t), store.LaneConversation, 10); err != nil {
		r.t.Fatal(err)
	}
	if err := lock.MarkSent(ctxOf(r.t), id, wamid); err != nil {
		r.t.Fatal(err)
	}
}

type delivery struct {
	status                  string
	sent, delivered, read   bool
	outDelivered, outRead   bool
	errorCode               int
	errorReason, outMessage string
}

func (r *rig) delivery(outboxID int64) delivery {
	r.t.Helper()
	var d delivery
	err := r.db.QueryRow(ctxOf(r.t), `
		SELECT m.status, m.sent_at IS NOT NULL, m.delivered_at IS NOT NULL, m.read_at IS NOT NULL,
		       o.delivered_at IS NOT NULL, o.read_at IS NOT NULL, COALESCE(m.error_code, 0), COALESCE(m.error_reason, ''),
		       COALESCE(o.error_message, '')
		  FROM messages m JOIN outbox o ON o.id = m.outbox_id WHERE o.id = $1`, outboxID).
		Scan(&d.status, &d.sent, &d.delivered, &d.read, &d.outDelivered, &d.outRead, &d.errorCode, &d.errorReason, &d.outMessage)
	if err != nil {
		r.t.Fatal(err)
	}
	return d
}

func TestStatusesInAnyOrder(t *testing.T) {
	r := newRig(t)
	id := r.autoReply("34600000001", "wamid.IN1")
	ts := time.Now().Unix()
	// delivered arrives before the sender has recorded the wamid: kept, applied later.
	r.postSigned(statusBody(numA, "wamid.OUT1", "delivered", ts+2, ""), numA.AppSecret, http.StatusOK)
	if d := r.delivery(id); d.status != "queued" || d.outDelivered {
		t.Fatalf("before the wamid is known: %+v", d)
	}
	r.markSent(id, "wamid.OUT1")
	if d := r.delivery(id); d.status != "delivered" || !d.delivered || !d.outDelivered || !d.sent {
		t.Fatalf("after the sender recorded the wamid: %+v", d)
	}
	// read, then a late delivered and sent: read stays.
	r.postSigned(statusBody(numA, "wamid.OUT1", "read", ts+3, ""), numA.AppSecret, http.StatusOK)
	r.postSigned(statusBody(numA, "wamid.OUT1", "delivered", ts+2, ""), numA.AppSecret, http.StatusOK)
	r.postSigned(statusBody(numA, "wamid.OUT1", "sent", ts+1, ""), numA.AppSecret, http.StatusOK)
	if d := r.delivery(id); d.status != "read" || !d.read || !d.outRead || !d.outDelivered {
		t.Fatalf("after read then late statuses: %+v", d)
	}
	if n := r.count(`SELECT count(*) FROM message_statuses WHERE wamid = 'wamid.OUT1'`); n != 3 {
		t.Fatalf("%d statuses recorded, want 3 (sent, delivered, read once each)", n)
	}
	// A second message: read before delivered, with the wamid already known.
	id2 := r.autoReply("34600000002", "wamid.IN2")
	r.markSent(id2, "wamid.OUT2")
	r.postSigned(statusBody(numA, "wamid.OUT2", "read", ts+5, ""), numA.AppSecret, http.StatusOK)
	r.postSigned(statusBody(numA, "wamid.OUT2", "delivered", ts+4, ""), numA.AppSecret, http.StatusOK)
	if d := r.delivery(id2); d.status != "read" || !d.delivered {
		t.Fatalf("read before delivered: %+v", d)
	}
}

const (
	err131050 = `{"code":131050,"title":"Unable to deliver the message. This recipient has chosen to stop receiving marketing messages on WhatsApp from your business"}`
	err131047 = `{"code":131047,"title":"Re-engagement message","error_data":{"details":"Message failed to send because more than 24 hours have passed since the customer last replied to this number."}}`
)

func TestFailedStatuses(t *testing.T) {
	r := newRig(t)
	id := r.autoReply("34600000001", "wamid.IN1")
	r.markSent(id, "wamid.OUT1")
	r.postSigned(statusBody(numA, "wamid.OUT1", "failed", time.Now().Unix(), err131050), numA.AppSecret, http.StatusOK)
	d := r.delivery(id)
	if d.status != "failed" || d.errorCode != 131050 || d.errorReason != d.outMessage || d.errorReason == "" {
		t.Fatalf("131050: %+v", d)
	}
	if r.count(`SELECT count(*) FROM contacts WHERE wa_id = '34600000001' AND marketing_opt_out AND marketing_opt_out_at IS NOT NULL`) != 1 {
		t.Fatal("131050 did not mark the contact opted out of marketing")
	}
	id2 := r.autoReply("34600000002", "wamid.IN2")
	r.markSent(id2, "wamid.OUT2")
	r.postSigned(statusBody(numA, "wamid.OUT2", "failed", time.Now().Unix(), err131047), numA.AppSecret, http.StatusOK)
	if d := r.delivery(id2); d.errorCode != 131047 || d.errorReason != conversation.Reason(whatsapp.StatusError{Code: 131047}) {
		t.Fatalf("131047: %+v", d)
	}
	if r.count(`SELECT count(*) FROM contacts WHERE marketing_opt_out`) != 1 {
		t.Fatal("131047 opted a contact out")
	}
}

// TestCommittedHookOnNewCustomerMessagesOnly: routing is kicked after a commit that
// stored a new customer message, not for a duplicate nor for a status.
func TestCommittedHookOnNewCustomerMessagesOnly(t *testing.T) {
	r := newRig(t)
	body := textBody(numA, "34600000001", "hola", "wamid.hook.1")
	r.postSigned(body, numA.AppSecret, http.StatusOK)
	if n := r.committed.Load(); n != 1 {
		t.Fatalf("Committed called %d times after a new message, want 1", n)
	}
	r.postSigned(body, numA.AppSecret, http.StatusOK) // Meta's retry: stored once
	r.postSigned(statusBody(numA, "wamid.out.1", "sent", 1700000000, ""), numA.AppSecret, http.StatusOK)
	if n := r.committed.Load(); n != 1 {
		t.Fatalf("Committed called %d times in all, want 1 (not for a duplicate or a status)", n)
	}
}
