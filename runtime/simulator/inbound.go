package simulator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"github.com/switchboard-dev/switchboard/runtime/whatsapp"
)

// Inbound is a message a simulated WhatsApp user sends to a business number.
type Inbound struct {
	From        string `json:"from"`                  // the user's number (digits), resolved to a wa_id as recipients are
	Name        string `json:"name,omitempty"`        // profile name; default "User <from>"
	Type        string `json:"type,omitempty"`        // text (default), image, document, audio, video, sticker, button_reply, list_reply, button
	Text        string `json:"text,omitempty"`        // text body, media caption, or quick-reply button text
	MimeType    string `json:"mime_type,omitempty"`   // media's MIME type; default by type (media.go)
	Filename    string `json:"filename,omitempty"`    // a document's file name
	ID          string `json:"id,omitempty"`          // tapped button/row ID, or quick-reply payload
	Title       string `json:"title,omitempty"`       // tapped button/row title
	Description string `json:"description,omitempty"` // tapped row description
	Context     string `json:"context,omitempty"`     // wamid replied to; default: the last message sent to the user
	// Message, instead of Type and the fields after it, is a whole message object as Meta
	// sends it (type, its type object, context, referral, errors…), such as one of Meta's
	// webhook examples; every field is kept and only from, id and timestamp are set.
	Message json.RawMessage `json:"message,omitempty"`
}

// Inject delivers one inbound message now: it opens (or renews) the user's
// service window, uses one unit of the number's throughput, and sends the
// "messages" webhook. It returns the message's wamid.
func (s *Server) Inject(numberID string, in Inbound) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.numbers[numberID]
	if !ok {
		return "", fmt.Errorf("simulator: no number %s", numberID)
	}
	return s.injectLocked(st, in, s.clock.Now())
}

func (s *Server) injectLocked(st *numberState, in Inbound, now time.Time) (string, error) {
	from := s.cfg.Recipients.resolve(digitsOnly(in.From))
	if from == "" {
		return "", fmt.Errorf("simulator: inbound message needs a from number")
	}
	s.seq++
	id := s.rnd.wamid(from, "in", s.seq)
	msg, err := s.inboundMessage(st, in, from, id, now)
	if err != nil {
		return "", err
	}
	st.throughput.drain(now)
	st.inbound[from] = now
	st.counters.Inbound++
	s.totals.Inbound++
	name := orStr(in.Name, "User "+from)
	s.enqueueChange(st, whatsapp.FieldMessages, inboundValue{MessagingProduct: "whatsapp", Metadata: metadataOf(st),
		Contacts: []whatsapp.WebhookContact{{Profile: whatsapp.Profile{Name: name}, WAID: from}},
		Messages: []any{msg}})
	return id, nil
}

// inboundValue is the value of a "messages" change carrying one inbound
// message, built by the simulator or given whole (Inbound.Message).
type inboundValue struct {
	MessagingProduct string                    `json:"messaging_product"`
	Metadata         whatsapp.Metadata         `json:"metadata"`
	Contacts         []whatsapp.WebhookContact `json:"contacts"`
	Messages         []any                     `json:"messages"`
}

// inboundMessage builds the message object: in.Message as given, or one
// shaped like Meta's examples from in's fields.
func (s *Server) inboundMessage(st *numberState, in Inbound, from, id string, now time.Time) (any, error) {
	if len(in.Message) > 0 {
		if in.Type != "" {
			return nil, fmt.Errorf("simulator: inbound message: give type or message, not both")
		}
		return wholeInbound(in.Message, from, id, now)
	}
	if _, ok := mediaKinds[in.Type]; ok {
		return s.inboundMediaMessage(st, in, from, id, now), nil
	}
	msg := whatsapp.InboundMessage{From: from, ID: id, Timestamp: unix(now)}
	return msg, s.fillInbound(&msg, st, in)
}

// wholeInbound is a message object given whole, every field kept (numbers
// exactly as written); only from, id and timestamp are the simulator's.
func wholeInbound(raw json.RawMessage, from, id string, now time.Time) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil || m == nil {
		return nil, fmt.Errorf("simulator: inbound message must be a JSON object (%v)", err)
	}
	if t, _ := m["type"].(string); t == "" {
		return nil, fmt.Errorf("simulator: inbound message needs a type")
	}
	m["from"], m["id"], m["timestamp"] = from, id, unix(now)
	return m, nil
}

// fillInbound sets the type-specific part of msg, shaped like Meta's
// webhook examples.
func (s *Server) fillInbound(msg *whatsapp.InboundMessage, st *numberState, in Inbound) error {
	msg.Type = orStr(in.Type, "text")
	switch msg.Type {
	case "text":
		msg.Text = &whatsapp.Text{Body: orStr(in.Text, "Hello")}
	case "button_reply", "list_reply":
		pick := &whatsapp.ReplyPick{ID: orStr(in.ID, "option-1"), Title: orStr(in.Title, "Option 1"), Description: in.Description}
		msg.Interactive = &whatsapp.InboundInteractive{Type: msg.Type}
		if msg.Type == "button_reply" {
			pick.Description = ""
			msg.Interactive.ButtonReply = pick
		} else {
			msg.Interactive.ListReply = pick
		}
		msg.Type, msg.Context = "interactive", s.replyContext(st, msg.From, in.Context)
	case "button":
		msg.Button = &whatsapp.InboundButton{Payload: orStr(in.ID, orStr(in.Text, "OK")), Text: orStr(in.Text, "OK")}
		msg.Context = s.replyContext(st, msg.From, in.Context)
	default:
		return fmt.Errorf("simulator: inbound type %q: want text, image, document, audio, video, sticker, "+
			"button_reply, list_reply or button", in.Type)
	}
	return nil
}

// replyContext points a tap at the business message it answers.
func (s *Server) replyContext(st *numberState, from, wamid string) *whatsapp.InboundContext {
	if wamid == "" {
		wamid = st.lastSentTo[from]
	}
	if wamid == "" {
		wamid = s.rnd.wamid(from, "ctx", s.seq)
	}
	return &whatsapp.InboundContext{From: digitsOnly(st.DisplayPhoneNumber), ID: wamid}
}

// Traffic injects Rate inbound text messages per second, from Users
// distinct simulated users in turn, for Duration (rounded up to seconds).
type Traffic struct {
	Rate     int      `json:"rate"`
	Users    int      `json:"users"`
	Duration Duration `json:"duration"`
	Text     string   `json:"text,omitempty"` // default "Hello"
}

// seconds validates t against the injection bound and returns its length.
func (t Traffic) seconds(maxInjected int) (int, error) {
	secs := int((t.Duration.D() + time.Second - 1) / time.Second)
	if t.Rate < 1 || t.Users < 1 || secs < 1 {
		return 0, fmt.Errorf("traffic needs rate ≥ 1, users ≥ 1 and a positive duration")
	}
	if t.Rate*secs > maxInjected || t.Rate > maxInjected {
		return 0, fmt.Errorf("traffic of %d msg/s for %d s exceeds the bound of %d messages", t.Rate, secs, maxInjected)
	}
	return secs, nil
}

// startTraffic schedules one tick per second; each injects Rate messages.
func (s *Server) startTraffic(numberID string, t Traffic, now time.Time) error {
	secs, err := t.seconds(s.cfg.MaxInjected)
	if err != nil {
		return err
	}
	for k := 0; k < secs; k++ {
		k := k
		s.sched.at(now.Add(time.Duration(k)*time.Second), func() { s.trafficTick(numberID, t, k) })
	}
	return nil
}

func (s *Server) trafficTick(numberID string, t Traffic, k int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.numbers[numberID]
	if !ok {
		return
	}
	now := s.clock.Now()
	for j := 0; j < t.Rate; j++ {
		user := s.trafficUser(numberID, (k*t.Rate+j)%t.Users)
		_, _ = s.injectLocked(st, Inbound{From: user, Text: orStr(t.Text, "Hello")}, now)
	}
}

// trafficUser is the i-th simulated user of a number: 11 digits, derived
// from the seed.
func (s *Server) trafficUser(numberID string, i int) string {
	base := 10_000_000_000 + s.rnd.u64("users:"+numberID, 0)%80_000_000_000
	return fmt.Sprint(base + uint64(i))
}
