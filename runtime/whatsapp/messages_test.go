package whatsapp_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/switchboard-dev/switchboard/runtime/simulator/spectest"
	"github.com/switchboard-dev/switchboard/runtime/whatsapp"
)

// loadSpec loads Meta's OpenAPI description once; a missing file fails.
func loadSpec(t *testing.T) *spectest.Spec {
	return spectest.Meta(t)
}

const messagesPath = "/{Version}/{Phone-Number-ID}/messages"

// specExample returns a sendMessage request example as a generic value, with
// the recipient placeholder replaced by `to`.
func specExample(t *testing.T, name, to string) any {
	t.Helper()
	exs, err := loadSpec(t).RequestExamples(messagesPath, "post")
	if err != nil {
		t.Fatal(err)
	}
	raw, ok := exs[name]
	if !ok {
		t.Fatalf("spec has no example %q", name)
	}
	s := strings.ReplaceAll(string(raw), "{{Recipient-Phone-Number}}", to)
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// recorder is a fake Graph endpoint that records requests and answers like Meta.
type recorder struct {
	mu   sync.Mutex
	reqs []recorded
}

type recorded struct {
	method, path, query, auth, contentType string
	body                                   []byte
}

func (rec *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rec.mu.Lock()
	rec.reqs = append(rec.reqs, recorded{r.Method, r.URL.Path, r.URL.RawQuery,
		r.Header.Get("Authorization"), r.Header.Get("Content-Type"), body})
	rec.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	switch {
	case r.Method == http.MethodGet:
		io.WriteString(w, `{"id":"106540352242922","quality_rating":"YELLOW","throughput":{"level":"STANDARD"},`+
			`"whatsapp_business_manager_messaging_limit":"TIER_2K","status":"CONNECTED","name_status":"APPROVED",`+
			`"verified_name":"Lucky Shrub","display_phone_number":"15550783881"}`)
	case strings.Contains(string(body), `"status":"read"`):
		io.WriteString(w, `{"success":true}`)
	default:
		io.WriteString(w, `{"messaging_product":"whatsapp","contacts":[{"input":"+16505551234","wa_id":"16505551234"}],`+
			`"messages":[{"id":"wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJCOTY3NDc0NDFDRUI3NTA0Q0UA"}]}`)
	}
}

func (rec *recorder) last(t *testing.T) recorded {
	t.Helper()
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.reqs) == 0 {
		t.Fatal("no request recorded")
	}
	return rec.reqs[len(rec.reqs)-1]
}

func mustMedia(t *testing.T, to, typ string, m whatsapp.Media) whatsapp.Message {
	t.Helper()
	msg, err := whatsapp.MediaMessage(to, typ, m)
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

// TestSendBodiesMatchMetaExamples builds each message type with the client
// and compares the JSON it sends with the example of the same message in
// Meta's OpenAPI description, then validates it against the spec's schema.
func TestSendBodiesMatchMetaExamples(t *testing.T) {
	const to = "16505551234"
	templateText := whatsapp.TemplateMessage(to, "template-name", "language-and-locale-code",
		whatsapp.TemplateComponent{Type: "body", Parameters: []whatsapp.TemplateParameter{
			whatsapp.TextParam("text-string"),
			{Type: "currency", Currency: &whatsapp.Currency{FallbackValue: "$100.99", Code: "USD", Amount1000: 100990}},
			{Type: "date_time", DateTime: &whatsapp.DateTime{FallbackValue: "February 25, 1977", Calendar: "GREGORIAN",
				DayOfMonth: 25, DayOfWeek: 5, Hour: 15, Minute: 33, Month: 2, Year: 1977}},
		}})
	list := whatsapp.ListMessage(to, "<BODY_TEXT>", "<BUTTON_TEXT>",
		whatsapp.Section{Title: "<LIST_SECTION_1_TITLE>", Rows: []whatsapp.Row{
			{ID: "<LIST_SECTION_1_ROW_1_ID>", Title: "<SECTION_1_ROW_1_TITLE>", Description: "<SECTION_1_ROW_1_DESC>"},
			{ID: "<LIST_SECTION_1_ROW_2_ID>", Title: "<SECTION_1_ROW_2_TITLE>", Description: "<SECTION_1_ROW_2_DESC>"}}},
		whatsapp.Section{Title: "<LIST_SECTION_2_TITLE>", Rows: []whatsapp.Row{
			{ID: "<LIST_SECTION_2_ROW_1_ID>", Title: "<SECTION_2_ROW_1_TITLE>", Description: "<SECTION_2_ROW_1_DESC>"},
			{ID: "<LIST_SECTION_2_ROW_2_ID>", Title: "<SECTION_2_ROW_2_TITLE>", Description: "<SECTION_2_ROW_2_DESC>"}}})
	list.Interactive.Header = &whatsapp.InteractiveHeader{Type: "text", Text: "<HEADER_TEXT>"}
	list.Interactive.Footer = &whatsapp.InteractiveText{Text: "<FOOTER_TEXT>"}
	replyText := whatsapp.TextMessage(to, "<TEXT_MSG_CONTENT>")
	replyText.Context = &whatsapp.Context{MessageID: "<MSGID_OF_PREV_MSG>"}
	cases := []struct {
		example string
		msg     whatsapp.Message
		loose   []string // keys the client omits on purpose (false/empty defaults)
	}{
		{"Send Text Message", whatsapp.TextMessage(to, "text-message-content"), []string{"text.preview_url"}},
		{"Send Reply to Text Message", replyText, []string{"text.preview_url"}},
		{"Send Test Message", whatsapp.TemplateMessage(to, "hello_world", "en_US"), []string{"recipient_type"}},
		{"Send Message Template Text", templateText, nil},
		{"Send Image Message by URL", mustMedia(t, to, "image", whatsapp.Media{Link: "http(s)://image-url"}), nil},
		{"Send Image Message by ID", mustMedia(t, to, "image", whatsapp.Media{ID: "<IMAGE_OBJECT_ID>"}), nil},
		{"Send Document Message by ID", mustMedia(t, to, "document", whatsapp.Media{ID: "<DOCUMENT_OBJECT_ID>",
			Caption: "<DOCUMENT_CAPTION_TO_SEND>", Filename: "<DOCUMENT_FILENAME>"}), nil},
		{"Send Audio Message by URL", mustMedia(t, to, "audio", whatsapp.Media{Link: "<http(s)://audio-url>"}), nil},
		{"Send Video Message by ID", mustMedia(t, to, "video", whatsapp.Media{ID: "<VIDEO_OBJECT_ID>", Caption: "<VIDEO_CAPTION_TEXT>"}), nil},
		{"Send Sticker Message by ID", mustMedia(t, to, "sticker", whatsapp.Media{ID: "<MEDIA_OBJECT_ID>"}), nil},
		{"Send Reply Button", whatsapp.ButtonsMessage(to, "<BUTTON_TEXT>",
			whatsapp.ReplyButton("<UNIQUE_BUTTON_ID_1>", "<BUTTON_TITLE_1>"),
			whatsapp.ReplyButton("<UNIQUE_BUTTON_ID_2>", "<BUTTON_TITLE_2>")), nil},
		{"Send List Message", list, nil},
		{"Send Reply with Reaction Message", whatsapp.ReactionMessage(to, "wamid.HBgLM...", "\U0001F600"), nil},
	}
	rec := &recorder{}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	c := newClient(t, srv.URL, "tok-123")
	for _, tc := range cases {
		t.Run(tc.example, func(t *testing.T) {
			res, err := c.Send(context.Background(), "106540352242922", tc.msg)
			if err != nil {
				t.Fatal(err)
			}
			if res.WAMID() == "" || len(res.Contacts) != 1 || res.Contacts[0].WAID != "16505551234" {
				t.Fatalf("result not decoded: %+v", res)
			}
			got := rec.last(t)
			checkRequest(t, got, "POST", "/v23.0/106540352242922/messages")
			var sent any
			if err := json.Unmarshal(got.body, &sent); err != nil {
				t.Fatal(err)
			}
			want := specExample(t, tc.example, to)
			dropPaths(want, tc.loose)
			dropPaths(sent, tc.loose)
			if !reflect.DeepEqual(sent, want) {
				t.Fatalf("body differs from Meta's example\n got: %s\nwant: %s", got.body, mustJSON(want))
			}
			if err := loadSpec(t).Validate("Message", got.body); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestMarkReadBody(t *testing.T) {
	rec := &recorder{}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	c := newClient(t, srv.URL, "tok-123")
	const wamid = "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUYzMjEzNDM2RTZGQ0MzMDJBRgA="
	if err := c.MarkRead(context.Background(), "106540352242922", wamid, true); err != nil {
		t.Fatal(err)
	}
	got := rec.last(t)
	checkRequest(t, got, "POST", "/v23.0/106540352242922/messages")
	var sent any
	_ = json.Unmarshal(got.body, &sent)
	if want := specExample(t, "Send typing indicator and read receipt", ""); !reflect.DeepEqual(sent, want) {
		t.Fatalf("mark-read body %s, want %s", got.body, mustJSON(want))
	}
	if err := loadSpec(t).Validate("ReadReceiptRequest", got.body); err != nil {
		t.Fatal(err)
	}
	if err := c.MarkRead(context.Background(), "106540352242922", wamid, false); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(rec.last(t).body), "typing_indicator") {
		t.Fatal("typing indicator sent without being asked for")
	}
}

func TestGetPhoneNumber(t *testing.T) {
	rec := &recorder{}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	p, err := newClient(t, srv.URL, "tok-123").GetPhoneNumber(context.Background(), "106540352242922")
	if err != nil {
		t.Fatal(err)
	}
	got := rec.last(t)
	checkRequest(t, got, "GET", "/v23.0/106540352242922")
	wantQuery := "fields=quality_rating%2Cthroughput%2Cwhatsapp_business_manager_messaging_limit%2Cstatus%2Cname_status%2Cverified_name%2Cdisplay_phone_number"
	if got.query != wantQuery {
		t.Fatalf("query %q, want %q", got.query, wantQuery)
	}
	want := whatsapp.PhoneNumber{ID: "106540352242922", QualityRating: "YELLOW",
		Throughput: whatsapp.Throughput{Level: "STANDARD"}, MessagingLimit: "TIER_2K", Status: "CONNECTED",
		NameStatus: "APPROVED", VerifiedName: "Lucky Shrub", DisplayPhoneNumber: "15550783881"}
	if p != want {
		t.Fatalf("got %+v\nwant %+v", p, want)
	}
	if p.Limit() != "TIER_2K" || (whatsapp.PhoneNumber{MessagingLimitTier: "TIER_1K"}).Limit() != "TIER_1K" {
		t.Fatal("Limit() fallback broken")
	}
}

func checkRequest(t *testing.T, got recorded, method, path string) {
	t.Helper()
	if got.method != method || got.path != path {
		t.Fatalf("%s %s, want %s %s", got.method, got.path, method, path)
	}
	if got.auth != "Bearer tok-123" {
		t.Fatalf("Authorization %q", got.auth)
	}
	if method == "POST" && got.contentType != "application/json" {
		t.Fatalf("Content-Type %q", got.contentType)
	}
}

func TestNewDefaultsAndValidation(t *testing.T) {
	c, err := whatsapp.New(whatsapp.Options{AccessToken: "x"})
	if err != nil {
		t.Fatal(err)
	}
	if c.APIVersion() != "v23.0" || !strings.Contains(c.String(), "https://graph.facebook.com") {
		t.Fatalf("defaults not applied: %s", c)
	}
	for _, o := range []whatsapp.Options{{BaseURL: "::bad"}, {BaseURL: "ftp://x"}, {APIVersion: "23"}} {
		if _, err := whatsapp.New(o); err == nil {
			t.Errorf("New(%v) should fail", o)
		}
	}
	if _, err := whatsapp.MediaMessage("1", "text", whatsapp.Media{}); err == nil {
		t.Error("MediaMessage accepted a non-media type")
	}
	for _, id := range []string{"", "1/../2", "1?x=y", ".."} {
		_, err = c.Send(context.Background(), id, whatsapp.TextMessage("1", "x"))
		if !errorsIs(err, whatsapp.ErrInvalidMessage) || whatsapp.ClassOf(err) != whatsapp.Permanent {
			t.Errorf("phone number ID %q: %v", id, err)
		}
	}
	if _, err := c.GetPhoneNumber(context.Background(), "a/b"); !errorsIs(err, whatsapp.ErrInvalidMessage) {
		t.Errorf("GetPhoneNumber with a bad ID: %v", err)
	}
	if err := c.MarkRead(context.Background(), "1", "", false); !errorsIs(err, whatsapp.ErrInvalidMessage) {
		t.Errorf("MarkRead without message ID: %v", err)
	}
}

// dropPaths deletes dotted key paths (a.b.c) from a decoded JSON object.
func dropPaths(v any, paths []string) {
	for _, p := range paths {
		keys := strings.Split(p, ".")
		m, _ := v.(map[string]any)
		for _, k := range keys[:len(keys)-1] {
			m, _ = m[k].(map[string]any)
		}
		delete(m, keys[len(keys)-1])
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
