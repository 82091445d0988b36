package spectest

import (
	"fmt"
	"maps"
	"slices"
)

// Repairs to Meta's description, each because the schema as written rejects
// Meta's own examples (checked by TestSpecExamplesValidate) or lacks a schema
// the Cloud API documentation describes. Nothing else is loosened.
//
//  1. Message schemas are `allOf: [BaseMessageProperties, {additionalProperties:
//     false, ...}]`. In JSON Schema, additionalProperties only sees its own
//     branch, so every body fails ("messaging_product not allowed"). The intent
//     (no unknown keys) is kept by moving it to unevaluatedProperties on the
//     allOf owner, which sees the properties of all branches.
//  2. BaseMessageProperties requires recipient_type; Meta's examples (e.g. the
//     hello_world template) and the Service messages page treat it as optional.
//  3. LanguageObject requires policy; no example sends it.
//  4. Template button `index` has the pattern "^[2-6, 11-14]$", which rejects
//     the "0" Meta's examples use (and one example sends the integer 0).
//  5. The webhook IncomingMessage schema reuses the *outbound* message schemas
//     (TextMessage, ImageMessage, …, via BaseMessageProperties with `to` and
//     recipient_type). Inbound messages carry from/id/timestamp instead, so each
//     inbound branch is rebuilt on an inbound base with the same type-specific
//     part.
//  6. Change.field and Change.value know only `messages` and group events. The
//     description has no schema for phone_number_quality_update or
//     account_update; small schemas with the field names of Meta's webhook
//     reference pages (see CONTRACT.md §1.6) are added and marked "contract".
//  7. Mark-as-read (`status: read` + message_id) has request examples but no
//     schema; ReadReceiptRequest is built from the example's keys.
func applyPatches(doc map[string]any) error {
	schemas, ok := dig(doc, "components", "schemas").(map[string]any)
	if !ok {
		return fmt.Errorf("spectest: no components/schemas")
	}
	moveAdditionalProperties(doc)
	steps := []func(map[string]any) error{
		optionalRecipientType, optionalLanguagePolicy, looseButtonIndex,
		inboundMessages, webhookFields, readReceipt,
	}
	for _, step := range steps {
		if err := step(schemas); err != nil {
			return err
		}
	}
	return nil
}

// moveAdditionalProperties is repair 1, applied to the whole document.
func moveAdditionalProperties(v any) {
	switch t := v.(type) {
	case map[string]any:
		if branches, ok := t["allOf"].([]any); ok {
			for _, b := range branches {
				bm, ok := b.(map[string]any)
				if ok && bm["additionalProperties"] == false {
					delete(bm, "additionalProperties")
					t["unevaluatedProperties"] = false
				}
			}
		}
		for _, c := range t {
			moveAdditionalProperties(c)
		}
	case []any:
		for _, c := range t {
			moveAdditionalProperties(c)
		}
	}
}

func schemaNamed(schemas map[string]any, name string) (map[string]any, error) {
	s, ok := schemas[name].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("spectest: schema %s missing; the description changed", name)
	}
	return s, nil
}

func dropRequired(schemas map[string]any, name, prop string) error {
	s, err := schemaNamed(schemas, name)
	if err != nil {
		return err
	}
	req, _ := s["required"].([]any)
	s["required"] = slices.DeleteFunc(slices.Clone(req), func(v any) bool { return v == prop })
	return nil
}

func optionalRecipientType(schemas map[string]any) error {
	return dropRequired(schemas, "BaseMessageProperties", "recipient_type")
}

func optionalLanguagePolicy(schemas map[string]any) error {
	return dropRequired(schemas, "LanguageObject", "policy")
}

func looseButtonIndex(schemas map[string]any) error {
	index := map[string]any{"type": []any{"string", "integer"}}
	top, err := schemaNamed(schemas, "TemplateComponent")
	if err != nil {
		return err
	}
	dig(top, "properties").(map[string]any)["index"] = index
	btn, err := schemaNamed(schemas, "ButtonComponent")
	if err != nil {
		return err
	}
	for _, b := range btn["allOf"].([]any) {
		if props, ok := dig(b, "properties").(map[string]any); ok && props["index"] != nil {
			props["index"] = index
		}
	}
	return nil
}

// inboundMessages is repair 5: IncomingMessage branches rebuilt on an inbound
// base (from, id, timestamp, type, and the optional context/referral/errors
// Meta's inbound examples carry).
func inboundMessages(schemas map[string]any) error {
	incoming, err := schemaNamed(schemas, "IncomingMessage")
	if err != nil {
		return err
	}
	schemas["InboundBaseMessageProperties"] = inboundBase()
	mapping, _ := dig(incoming, "discriminator", "mapping").(map[string]any)
	rebuilt := map[string]string{}
	for _, ref := range incoming["oneOf"].([]any) {
		name := refName(ref)
		if _, done := rebuilt[name]; done {
			continue
		}
		if err := addInbound(schemas, name); err != nil {
			return err
		}
		rebuilt[name] = "Inbound" + name
	}
	incoming["oneOf"] = refsTo(slices.Sorted(maps.Values(rebuilt)))
	for k, v := range mapping {
		mapping[k] = "#/components/schemas/" + rebuilt[refName(map[string]any{"$ref": v})]
	}
	return nil
}

func addInbound(schemas map[string]any, name string) error {
	out, err := schemaNamed(schemas, name)
	if err != nil {
		return err
	}
	branches, _ := out["allOf"].([]any)
	if len(branches) != 2 || refName(branches[0]) != "BaseMessageProperties" {
		return fmt.Errorf("spectest: %s is no longer allOf[BaseMessageProperties, …]", name)
	}
	in := map[string]any{"allOf": []any{ref("InboundBaseMessageProperties"), branches[1]}}
	if u, ok := out["unevaluatedProperties"]; ok {
		in["unevaluatedProperties"] = u
	}
	schemas["Inbound"+name] = in
	return nil
}

func inboundBase() map[string]any {
	str := map[string]any{"type": "string"}
	obj := map[string]any{"type": "object"}
	return map[string]any{
		"type":     "object",
		"required": []any{"from", "id", "timestamp", "type"},
		"properties": map[string]any{
			"from": str, "id": str, "timestamp": str, "type": str,
			"context": obj, "referral": obj,
			"errors": map[string]any{"type": "array", "items": ref("StatusError")},
		},
	}
}

// webhookFields is repair 6.
func webhookFields(schemas map[string]any) error {
	change, err := schemaNamed(schemas, "Change")
	if err != nil {
		return err
	}
	field := dig(change, "properties", "field").(map[string]any)
	field["enum"] = append(field["enum"].([]any), "phone_number_quality_update", "account_update")
	value := dig(change, "properties", "value").(map[string]any)
	value["oneOf"] = append(value["oneOf"].([]any),
		ref("ContractPhoneNumberQualityUpdateValue"), ref("ContractAccountUpdateValue"))
	schemas["ContractPhoneNumberQualityUpdateValue"] = qualityUpdateSchema()
	schemas["ContractAccountUpdateValue"] = accountUpdateSchema()
	return nil
}

func qualityUpdateSchema() map[string]any {
	str := map[string]any{"type": "string"}
	return map[string]any{
		"type": "object", "additionalProperties": false,
		"required": []any{"display_phone_number", "event"},
		"properties": map[string]any{
			"display_phone_number": str,
			"event": map[string]any{"enum": []any{"ONBOARDING", "THROUGHPUT_UPGRADE",
				"FLAGGED", "UNFLAGGED", "UPGRADE", "DOWNGRADE"}},
			"current_limit": str, "old_limit": str,
			"max_daily_conversations_per_business": str,
		},
	}
}

func accountUpdateSchema() map[string]any {
	str := map[string]any{"type": "string"}
	restriction := map[string]any{
		"type": "object", "additionalProperties": false,
		"required": []any{"restriction_type"},
		"properties": map[string]any{
			"restriction_type": str, "expiration": map[string]any{"type": "integer"},
			"remediation": str,
		},
	}
	return map[string]any{
		"type": "object", "additionalProperties": false,
		"required": []any{"event"},
		"properties": map[string]any{
			"phone_number":     str,
			"event":            str,
			"restriction_info": map[string]any{"type": "array", "items": restriction},
			"violation_info":   map[string]any{"type": "object", "required": []any{"violation_type"}},
			"ban_info":         map[string]any{"type": "object", "required": []any{"waba_ban_state"}},
		},
	}
}

// readReceipt is repair 7.
func readReceipt(schemas map[string]any) error {
	schemas["ReadReceiptRequest"] = map[string]any{
		"type": "object", "additionalProperties": false,
		"required": []any{"messaging_product", "status", "message_id"},
		"properties": map[string]any{
			"messaging_product": map[string]any{"enum": []any{"whatsapp"}},
			"status":            map[string]any{"enum": []any{"read"}},
			"message_id":        map[string]any{"type": "string"},
			"typing_indicator": map[string]any{
				"type": "object", "required": []any{"type"},
				"properties": map[string]any{"type": map[string]any{"enum": []any{"text"}}},
			},
		},
	}
	return nil
}

func ref(name string) map[string]any {
	return map[string]any{"$ref": "#/components/schemas/" + name}
}

func refsTo(names []string) []any {
	out := make([]any, len(names))
	for i, n := range names {
		out[i] = ref(n)
	}
	return out
}

func refName(v any) string {
	r, _ := dig(v, "$ref").(string)
	const prefix = "#/components/schemas/"
	if len(r) > len(prefix) && r[:len(prefix)] == prefix {
		return r[len(prefix):]
	}
	return r
}
