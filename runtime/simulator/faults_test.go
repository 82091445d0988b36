package simulator_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/switchboard-dev/switchboard/runtime/simulator"
	"github.com/switchboard-dev/switchboard/runtime/whatsapp"
)

// TestFaultControlAPI: a fault added with POST /_sim/faults refuses the recipient's next
// sends with Meta's envelope (131000, HTTP 500 by default) as many times as asked, and
// no one else's; bad faults are refused naming the field; DELETE removes them all.
func TestFaultControlAPI(t *testing.T) {
	e := newEnv(t, simulator.Config{}, simulator.Number{})
	for body, field := range map[string]string{
		`{"recipient":"12","mode":"error"}`:                   "recipient",
		`{"recipient":"16505550000","mode":"explode"}`:        "mode",
		`{"recipient":"16505550000","httpStatus":99}`:         "httpStatus",
		`{"recipient":"16505550000","times":-1}`:              "times",
		`{"recipient":"16505550000","colour":"red"}`:          "colour",
		`{"recipient":"16505550000","code":-5,"always":true}`: "code",
	} {
		status, resp := e.request(http.MethodPost, "/_sim/faults", "", body)
		if status != http.StatusBadRequest || !strings.Contains(string(resp), field) {
			t.Errorf("%s: %d %s; want 400 naming %s", body, status, resp, field)
		}
	}
	const faulty = "16505550000"
	status, resp := e.request(http.MethodPost, "/_sim/faults", "", `{"recipient":"`+faulty+`","times":2}`)
	var listed []simulator.Fault
	if status != http.StatusOK || json.Unmarshal(resp, &listed) != nil || len(listed) != 1 ||
		listed[0].Code != 131000 || listed[0].HTTPStatus != 500 || listed[0].Mode != simulator.FaultError {
		t.Fatalf("adding a fault: %d %s", status, resp)
	}
	e.inject(user)
	if _, err := e.send(whatsapp.TextMessage(user, "others are not affected")); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		_, err := e.send(whatsapp.TemplateMessage("+"+faulty, "hello_world", "en_US"))
		if we := wantClass(t, err, 131000, whatsapp.RetryLater); we.HTTPStatus != 500 || we.Ambiguous {
			t.Fatalf("fault: %v", err)
		}
	}
	if _, err := e.send(whatsapp.TemplateMessage(faulty, "hello_world", "en_US")); err != nil {
		t.Fatalf("the fault was used up, yet: %v", err)
	}
	if c := e.sim.Counters(); c.Rejected[131000] != 2 || c.Accepted != 2 {
		t.Errorf("counters %+v: want two 131000 and two accepted", c)
	}
	e.request(http.MethodPost, "/_sim/faults", "", `{"recipient":"`+faulty+`","always":true}`)
	if status, resp := e.request(http.MethodDelete, "/_sim/faults", "", ""); status != 200 || strings.TrimSpace(string(resp)) != "[]" {
		t.Fatalf("DELETE /_sim/faults: %d %s", status, resp)
	}
	if _, err := e.send(whatsapp.TemplateMessage(faulty, "hello_world", "en_US")); err != nil {
		t.Fatalf("after DELETE: %v", err)
	}
}
