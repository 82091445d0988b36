package outbound

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Text is one text of an outbound message that the customer reads.
type Text struct {
	// Field is where the text is in the Cloud API message object, with indices, for
	// example "template.components[0].parameters[1].text".
	Field string
	Value string
}

// textFields are the fields of Meta's message object (Cloud API, POST
// /{Phone-Number-ID}/messages: text, media, location, contacts, reaction, interactive
// and template messages) that carry text a customer reads. "[]" walks every element
// of an array; "**" takes every string under the field. They are read whatever the
// message's type says, so a field the type does not use is checked too. Left out on
// purpose: ids, links, media ids, language codes, the template's name (its own text
// was reviewed by Meta and is not in the payload), quick-reply payloads and button
// ids (returned in webhooks, never shown), and audio and stickers (no text).
var textFields = append([]string{
	"text.body",
	"image.caption", "video.caption", "document.caption", "document.filename",
	"location.name", "location.address",
	"contacts[].**",
	"reaction.emoji",
	"interactive.header.text", "interactive.body.text", "interactive.footer.text",
	"interactive.action.button",
	"interactive.action.buttons[].reply.title",
	"interactive.action.sections[].title",
	"interactive.action.sections[].rows[].title", "interactive.action.sections[].rows[].description",
	"interactive.action.parameters.display_text", "interactive.action.parameters.flow_cta",
}, templateFields()...)

// templateParameterFields are the fields of a template parameter that a customer reads
// (text, the coupon code of a copy-code button, the fallback texts of currency and date
// parameters), under a template's components and under its carousel cards' components.
var templateParameterFields = []string{"text", "coupon_code", "currency.fallback_value", "date_time.fallback_value"}

func templateFields() []string {
	var out []string
	for _, components := range []string{"template.components[]", "template.components[].cards[].components[]"} {
		for _, f := range templateParameterFields {
			out = append(out, components+".parameters[]."+f)
		}
	}
	return out
}

// Texts returns the texts of a stored outbound payload (the outbox's payload column: a
// Cloud API message object without messaging_product and to) that a customer reads, in
// the order of textFields. Empty strings are left out. A payload that is not a JSON object
// has no texts (Meta refuses it too).
func Texts(payload json.RawMessage) []Text {
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	var root map[string]any
	if err := dec.Decode(&root); err != nil {
		return nil
	}
	var out []Text
	for _, f := range textFields {
		out = collect(out, root, strings.Split(f, "."), "")
	}
	return out
}

// collect appends the strings at path under v, named from at.
func collect(out []Text, v any, path []string, at string) []Text {
	if len(path) == 0 {
		if s, ok := v.(string); ok && s != "" {
			out = append(out, Text{Field: at, Value: s})
		}
		return out
	}
	if path[0] == "**" {
		return collectAll(out, v, at)
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return out
	}
	key, each := strings.CutSuffix(path[0], "[]")
	child, ok := obj[key]
	if !ok {
		return out
	}
	if !each {
		return collect(out, child, path[1:], join(at, key))
	}
	list, _ := child.([]any)
	for i, el := range list {
		out = collect(out, el, path[1:], fmt.Sprintf("%s[%d]", join(at, key), i))
	}
	return out
}

// collectAll appends every string under v.
func collectAll(out []Text, v any, at string) []Text {
	switch v := v.(type) {
	case string:
		return collect(out, v, nil, at)
	case []any:
		for i, el := range v {
			out = collectAll(out, el, fmt.Sprintf("%s[%d]", at, i))
		}
	case map[string]any:
		for _, k := range slices.Sorted(maps.Keys(v)) {
			out = collectAll(out, v[k], join(at, k))
		}
	}
	return out
}

func join(at, key string) string {
	if at == "" {
		return key
	}
	return at + "." + key
}
