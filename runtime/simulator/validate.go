package simulator

import (
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"
)

// outbound is a validated send request.
type outbound struct {
	To        string // as sent
	Type      string
	MediaLink string // for media messages by link (checked asynchronously)
}

// messageCheckers validates the type object of each message type Meta accepts.
var messageCheckers = map[string]func(obj any) *graphError{
	"text": checkText, "template": checkTemplate, "interactive": checkInteractive,
	"image": checkMedia("image"), "document": checkMedia("document"), "audio": checkMedia("audio"),
	"video": checkMedia("video"), "sticker": checkMedia("sticker"),
	"reaction": checkReaction, "location": checkLocation, "contacts": checkContacts,
}

// validateMessage checks a send body the way the Cloud API does
// synchronously; everything it returns is code 100 (HTTP 400).
func validateMessage(body map[string]any) (outbound, *graphError) {
	if gerr := checkProduct(body); gerr != nil {
		return outbound{}, gerr
	}
	to, _ := body["to"].(string)
	if strings.TrimSpace(to) == "" {
		return outbound{}, errRequired("to")
	}
	if rt, ok := body["recipient_type"]; ok && rt != "individual" && rt != "group" {
		return outbound{}, errParam(`Param recipient_type must be "individual" or "group".`)
	}
	typ, gerr := messageType(body)
	if gerr != nil {
		return outbound{}, gerr
	}
	obj, ok := body[typ]
	if !ok || obj == nil {
		return outbound{}, errRequired(typ)
	}
	if gerr := messageCheckers[typ](obj); gerr != nil {
		return outbound{}, gerr
	}
	if gerr := checkContext(body["context"]); gerr != nil {
		return outbound{}, gerr
	}
	return outbound{To: to, Type: typ, MediaLink: str(dig(obj, "link"))}, nil
}

func checkProduct(body map[string]any) *graphError {
	mp, ok := body["messaging_product"]
	if !ok {
		return errRequired("messaging_product")
	}
	if mp != "whatsapp" {
		return errParam(`Param messaging_product must be "whatsapp".`)
	}
	return nil
}

func messageType(body map[string]any) (string, *graphError) {
	typ, ok := body["type"].(string)
	if !ok || typ == "" {
		return "", errRequired("type")
	}
	if _, known := messageCheckers[typ]; !known {
		names := make([]string, 0, len(messageCheckers))
		for k := range messageCheckers {
			names = append(names, strings.ToUpper(k))
		}
		sort.Strings(names)
		return "", errParam(fmt.Sprintf("Param type must be one of {%s} - got %q.", strings.Join(names, ", "), typ))
	}
	return typ, nil
}

func checkContext(ctx any) *graphError {
	if ctx == nil {
		return nil
	}
	if str(dig(ctx, "message_id")) == "" {
		return errParam("Param context['message_id'] is required.")
	}
	return nil
}

func checkText(obj any) *graphError {
	body := str(dig(obj, "body"))
	if body == "" {
		return errParam("Param text['body'] is required.")
	}
	if utf8.RuneCountInString(body) > 4096 {
		return errParam("Param text['body'] must be at most 4096 characters long.")
	}
	return nil
}

func checkMedia(kind string) func(any) *graphError {
	return func(obj any) *graphError {
		id, link := str(dig(obj, "id")), str(dig(obj, "link"))
		if (id == "") == (link == "") {
			return errParam(fmt.Sprintf("Param %s must have exactly one of 'id' or 'link'.", kind))
		}
		return nil
	}
}

func checkTemplate(obj any) *graphError {
	if str(dig(obj, "name")) == "" {
		return errParam("Param template['name'] is required.")
	}
	if str(dig(obj, "language", "code")) == "" {
		return errParam("Param template['language']['code'] is required.")
	}
	comps, ok := dig(obj, "components").([]any)
	if dig(obj, "components") != nil && !ok {
		return errParam("Param template['components'] must be an array.")
	}
	for i, c := range comps {
		if str(dig(c, "type")) == "" {
			return errParam(fmt.Sprintf("Param template['components'][%d]['type'] is required.", i))
		}
		params, _ := dig(c, "parameters").([]any)
		for j, p := range params {
			if str(dig(p, "type")) == "" {
				return errParam(fmt.Sprintf("Param template['components'][%d]['parameters'][%d]['type'] is required.", i, j))
			}
		}
	}
	return nil
}

var interactiveTypes = []string{"button", "list", "cta_url", "flow", "product", "product_list",
	"catalog_message", "location_request_message", "address_message", "call_permission_request",
	"order_details", "order_status", "voice_call"}

func checkInteractive(obj any) *graphError {
	typ := str(dig(obj, "type"))
	if typ == "" {
		return errParam("Param interactive['type'] is required.")
	}
	if !slices.Contains(interactiveTypes, typ) {
		return errParam(fmt.Sprintf("Param interactive['type'] %q is not a valid interactive type.", typ))
	}
	if _, ok := dig(obj, "action").(map[string]any); !ok {
		return errParam("Param interactive['action'] is required.")
	}
	switch typ {
	case "button":
		return checkButtons(obj)
	case "list":
		return checkList(obj)
	}
	return nil
}

func checkButtons(obj any) *graphError {
	if str(dig(obj, "body", "text")) == "" {
		return errParam("Param interactive['body']['text'] is required.")
	}
	buttons, _ := dig(obj, "action", "buttons").([]any)
	if len(buttons) < 1 || len(buttons) > 3 {
		return errParam("Param interactive['action']['buttons'] must have 1 to 3 buttons.")
	}
	seen := map[string]bool{}
	for i, b := range buttons {
		id, title := str(dig(b, "reply", "id")), str(dig(b, "reply", "title"))
		if str(dig(b, "type")) != "reply" || id == "" || title == "" {
			return errParam(fmt.Sprintf("Param interactive['action']['buttons'][%d] needs type reply, reply.id and reply.title.", i))
		}
		if utf8.RuneCountInString(title) > 20 || seen["id:"+id] || seen["title:"+title] {
			return errParam("Button titles must be unique and at most 20 characters; button IDs must be unique.")
		}
		seen["id:"+id], seen["title:"+title] = true, true
	}
	return nil
}

func checkList(obj any) *graphError {
	if str(dig(obj, "body", "text")) == "" {
		return errParam("Param interactive['body']['text'] is required.")
	}
	label := str(dig(obj, "action", "button"))
	if label == "" || utf8.RuneCountInString(label) > 20 {
		return errParam("Param interactive['action']['button'] is required (at most 20 characters).")
	}
	sections, _ := dig(obj, "action", "sections").([]any)
	if len(sections) < 1 || len(sections) > 10 {
		return errParam("Param interactive['action']['sections'] must have 1 to 10 sections.")
	}
	rows := 0
	for _, sec := range sections {
		rs, _ := dig(sec, "rows").([]any)
		for _, r := range rs {
			if str(dig(r, "id")) == "" || str(dig(r, "title")) == "" || utf8.RuneCountInString(str(dig(r, "title"))) > 24 {
				return errParam("Each list row needs an id and a title of at most 24 characters.")
			}
		}
		rows += len(rs)
	}
	if rows < 1 || rows > 10 {
		return errParam("A list message must have 1 to 10 rows in total.")
	}
	return nil
}

func checkReaction(obj any) *graphError {
	if str(dig(obj, "message_id")) == "" {
		return errParam("Param reaction['message_id'] is required.")
	}
	if _, ok := dig(obj, "emoji").(string); !ok {
		return errParam("Param reaction['emoji'] is required (empty removes the reaction).")
	}
	return nil
}

func checkLocation(obj any) *graphError {
	if dig(obj, "latitude") == nil || dig(obj, "longitude") == nil {
		return errParam("Params location['latitude'] and location['longitude'] are required.")
	}
	return nil
}

func checkContacts(obj any) *graphError {
	list, ok := obj.([]any)
	if !ok || len(list) == 0 {
		return errParam("Param contacts must be a non-empty array.")
	}
	for i, c := range list {
		if str(dig(c, "name", "formatted_name")) == "" {
			return errParam(fmt.Sprintf("Param contacts[%d]['name']['formatted_name'] is required.", i))
		}
	}
	return nil
}

// validateReadReceipt checks a mark-as-read body.
func validateReadReceipt(body map[string]any) *graphError {
	if gerr := checkProduct(body); gerr != nil {
		return gerr
	}
	if body["status"] != "read" {
		return errParam(`Param status must be "read".`)
	}
	if str(body["message_id"]) == "" {
		return errRequired("message_id")
	}
	return nil
}

// isHTTPLink reports whether link is an absolute http(s) URL.
func isHTTPLink(link string) bool {
	u, err := url.Parse(link)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func dig(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}
