package ingest_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"github.com/switchboard-dev/switchboard/runtime/inbox/kube"
	"github.com/switchboard-dev/switchboard/runtime/whatsapp"
)

// change builds one change of a batch.
func change(field string, value any) json.RawMessage {
	b, _ := json.Marshal(map[string]any{"field": field, "value": value})
	return b
}

func messagesValue(num kube.Number, from, wamid string) map[string]any {
	return map[string]any{"messaging_product": "whatsapp",
		"metadata": map[string]string{"display_phone_number": num.DisplayDigits, "phone_number_id": num.PhoneNumberID},
		"contacts": []any{map[string]any{"profile": map[string]string{"name": "C " + from}, "wa_id": from}},
		"messages": []any{map[string]any{"from": from, "id": wamid, "timestamp": "1750000000", "type": "text",
			"text": map[string]string{"body": "hi"}}}}
}

// A batch of Meta's maximum (1,000 changes, one entry each) mixing Numbers and fields,
// with changes for a Number the inbox does not serve and an unknown field.
func TestThousandChangeBatch(t *testing.T) {
	r := newRig(t)
	unserved := numA
	unserved.PhoneNumberID, unserved.DisplayDigits = "555", "15559999999"
	var entries []any
	want := map[string]int{}
	for i := 0; i < 1000; i++ {
		var c json.RawMessage
		switch i % 5 {
		case 0, 1:
			c = change("messages", messagesValue(numA, fmt.Sprint(34600000000+i%37), fmt.Sprintf("wamid.A%d", i)))
			want["a"]++
		case 2:
			c = change("messages", messagesValue(numB, fmt.Sprint(34600000000+i%41), fmt.Sprintf("wamid.B%d", i)))
			want["b"]++
		case 3:
			if i%10 == 3 {
				c = change("messages", messagesValue(unserved, "34600000000", fmt.Sprintf("wamid.X%d", i)))
				want["unserved"]++
			} else {
				c = change("phone_number_quality_update", map[string]any{"display_phone_number": numB.DisplayDigits,
					"event": "FLAGGED", "current_limit": fmt.Sprintf("TIER_%d", i)})
				want["quality"]++
			}
		case 4:
			c = change("some_future_field", map[string]any{"n": i})
			want["future"]++
		}
		entries = append(entries, map[string]any{"id": numA.WABAID, "changes": []json.RawMessage{c}})
	}
	body, _ := json.Marshal(map[string]any{"object": whatsapp.WebhookObject, "entry": entries})
	// Numbers A and B share an app here, as Numbers of one WABA usually do.
	r.snap.Store(kube.NewSnapshot("acme", []kube.Number{numA, withSecret(numB, numA.AppSecret)}))
	r.postSigned(body, numA.AppSecret, http.StatusOK)
	checks := map[string][2]int{
		"a":        {r.count(`SELECT count(*) FROM messages m JOIN conversations c ON c.id = m.conversation_id WHERE c.number = 'sales-es'`), want["a"]},
		"b":        {r.count(`SELECT count(*) FROM messages m JOIN conversations c ON c.id = m.conversation_id WHERE c.number = 'support'`), want["b"]},
		"quality":  {r.count(`SELECT count(*) FROM webhook_events WHERE field = 'phone_number_quality_update' AND number = 'support'`), want["quality"]},
		"future":   {r.count(`SELECT count(*) FROM webhook_events WHERE field = 'some_future_field'`), want["future"]},
		"unserved": {int(counter(r.metrics.Unserved.WithLabelValues("messages"))), want["unserved"]},
		"stored X": {r.count(`SELECT count(*) FROM messages WHERE wamid LIKE 'wamid.X%'`), 0},
	}
	for name, c := range checks {
		if c[0] != c[1] {
			t.Errorf("%s: %d, want %d", name, c[0], c[1])
		}
	}
	if len(r.refreshed) != 1 || r.refreshed[0] != "support" {
		t.Errorf("refreshed %v, want [support]", r.refreshed)
	}
}

func withSecret(n kube.Number, secret string) kube.Number {
	n.AppSecret = secret
	return n
}
