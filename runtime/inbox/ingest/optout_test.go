package ingest_test

import "testing"

// TestStopKeywordOptsOut: an inbound "Stop" alone marks the contact opted out of
// marketing, with the keyword as the reason, once even when Meta delivers it twice; a
// sentence with "stop" in it does not.
func TestStopKeywordOptsOut(t *testing.T) {
	r := newRig(t)
	r.postSigned(textBody(numA, "34600000001", " Stop ", "wamid.STOP1"), numA.AppSecret, 200)
	r.postSigned(textBody(numA, "34600000001", " Stop ", "wamid.STOP1"), numA.AppSecret, 200)
	r.postSigned(textBody(numA, "34600000002", "please don't stop", "wamid.STOP2"), numA.AppSecret, 200)
	if n := r.count(`SELECT count(*) FROM contacts WHERE marketing_opt_out AND marketing_opt_out_reason = 'keyword:STOP'
		AND marketing_opt_out_at IS NOT NULL AND wa_id = '34600000001'`); n != 1 {
		t.Errorf("STOP: %d contacts opted out, want 1", n)
	}
	if n := r.count(`SELECT count(*) FROM contacts WHERE marketing_opt_out`); n != 1 {
		t.Errorf("%d contacts opted out in all, want only the one who wrote STOP", n)
	}
}
