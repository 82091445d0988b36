package simulator

import (
	"fmt"
	"net/url"
	"sort"
	"strings"
	"unicode/utf8"
)

// outbound is a validated send request.
type outbound struct {
	To        string // as sent
	Digits    string // To without Meta's separators (+ - ( ) and spaces)
	Type      string
	MediaLink string // for media messages by link (checked asynchronously)
	Body      []byte // the request body as received
}

// messageCheckers validates the type object of each message type Meta accepts.
var messageCheckers = map[string]func(param) *graphError{
	"text": checkText, "template": checkTemplate, "interactive": checkInteractive,
	"image": checkMedia, "document": checkMedia, "audio": checkMedia,
	"video": checkMedia, "sticker": checkMedia,
	"reaction": checkReaction, "location": checkLocation, "contacts": checkContacts,
}

// defaultType is the message type Meta assumes when a send has no `type`
// ("If omitted, defaults to text", the messages reference).
const defaultType = "text"

// validateMessage checks a send body the way the Cloud API does
// synchronously: code 100 (HTTP 400) for the envelope and the type object,
// 132018 for template parameter text Meta refuses.
func validateMessage(body map[string]any) (outbound, *graphError) {
	if gerr := checkProduct(body); gerr != nil {
		return outbound{}, gerr
	}
	to, _ := body["to"].(string)
	digits, gerr := recipientDigits(to)
	if gerr != nil {
		return outbound{}, gerr
	}
	if rt, ok := body["recipient_type"]; ok && rt != "individual" && rt != "group" {
		return outbound{}, errParam(`Param recipient_type must be "individual" or "group".`)
	}
	typ, gerr := messageType(body)
	if gerr != nil {
		return outbound{}, gerr
	}
	obj := param{v: body[typ], path: typ}
	if gerr := firstError(obj.required, func() *graphError { return messageCheckers[typ](obj) },
		func() *graphError { return checkContext(body["context"]) }); gerr != nil {
		return outbound{}, gerr
	}
	return outbound{To: to, Digits: digits, Type: typ, MediaLink: obj.at("link").str()}, nil
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
	raw, present := body["type"]
	typ, _ := raw.(string)
	if !present {
		return defaultType, nil
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
	return param{v: ctx, path: "context"}.at("message_id").required()
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

// param is one value of a request body and its path in Meta's notation,
// such as interactive['action']['parameters']['url'] or contacts[0].
type param struct {
	v    any
	path string
}

// at is the object member key (nil when absent or not an object).
func (p param) at(key string) param {
	return param{v: dig(p.v, key), path: p.path + "['" + key + "']"}
}

// items returns the array's elements; a value that is not an array has none.
func (p param) items() []param {
	list, _ := p.v.([]any)
	out := make([]param, len(list))
	for i, v := range list {
		out[i] = param{v: v, path: fmt.Sprintf("%s[%d]", p.path, i)}
	}
	return out
}

func (p param) str() string   { return str(p.v) }
func (p param) present() bool { return p.v != nil }

// required refuses a missing value or an empty string, as Meta does:
// "(#100) The parameter <path> is required."
func (p param) required() *graphError {
	if p.v == nil || p.v == "" {
		return errRequired(p.path)
	}
	return nil
}

// text requires a non-empty string of at most max characters.
func (p param) text(max int) *graphError {
	if gerr := p.required(); gerr != nil {
		return gerr
	}
	return p.optText(max)
}

// optText accepts an absent value, or a string of at most max characters.
func (p param) optText(max int) *graphError {
	s, ok := p.v.(string)
	switch {
	case !p.present():
		return nil
	case !ok:
		return errParam(fmt.Sprintf("Param %s must be a string.", p.path))
	case utf8.RuneCountInString(s) > max:
		return errParam(fmt.Sprintf("Param %s must be at most %d characters long.", p.path, max))
	}
	return nil
}

// unbounded is count's max for arrays without a documented limit.
const unbounded = -1

// count requires an array of min to max elements (at least min when max is unbounded).
func (p param) count(min, max int) ([]param, *graphError) {
	if !p.present() {
		return nil, errRequired(p.path)
	}
	items := p.items()
	_, isList := p.v.([]any)
	switch {
	case max == unbounded && (!isList || len(items) < min):
		return nil, errParam(fmt.Sprintf("Param %s must be an array of at least %d element(s).", p.path, min))
	case max != unbounded && (!isList || len(items) < min || len(items) > max):
		return nil, errParam(fmt.Sprintf("Param %s must be an array of %d to %d elements.", p.path, min, max))
	}
	return items, nil
}

// equals requires the string value want.
func (p param) equals(want string) *graphError {
	if gerr := p.required(); gerr != nil {
		return gerr
	}
	if p.v != want {
		return errParam(fmt.Sprintf("Param %s must be %q.", p.path, want))
	}
	return nil
}

// firstError runs checks in order and returns the first failure.
func firstError(checks ...func() *graphError) *graphError {
	for _, c := range checks {
		if gerr := c(); gerr != nil {
			return gerr
		}
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
