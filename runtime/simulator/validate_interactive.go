package simulator

import "fmt"

// interactiveCheckers checks the action of each interactive type, as Meta's
// interactive-message pages and ActionObject describe it.
var interactiveCheckers = map[string]func(action param) *graphError{
	"button":                   checkButtons,
	"list":                     checkList,
	"cta_url":                  checkCTAURL,
	"flow":                     checkFlow,
	"product":                  checkSingleProduct,
	"product_list":             checkProductList,
	"catalog_message":          named("catalog_message"),
	"location_request_message": named("send_location"),
	"address_message":          named("address_message"),
	"call_permission_request":  named("call_permission_request"),
	"voice_call":               named("voice_call"),
	"order_details":            checkOrder("review_and_pay"),
	"order_status":             checkOrder("review_order"),
}

// checkInteractive: a known type, an action, the header, body (required
// except for single-product messages) and footer, then the type's action.
func checkInteractive(p param) *graphError {
	typ := p.at("type").str()
	if gerr := p.at("type").required(); gerr != nil {
		return gerr
	}
	checkAction, known := interactiveCheckers[typ]
	if !known {
		return errParam(fmt.Sprintf("Param interactive['type'] %q is not a valid interactive type.", typ))
	}
	action := p.at("action")
	if _, ok := action.v.(map[string]any); !ok {
		return errRequired(action.path)
	}
	return firstError(
		func() *graphError { return checkHeader(p.at("header"), typ == "product_list") },
		func() *graphError { return checkBody(p.at("body"), typ != "product") },
		func() *graphError { return optionalText(p.at("footer"), 60) },
		func() *graphError { return checkAction(action) })
}

// checkHeader: text headers need their text (60 characters at most), media
// headers exactly one of id and link. Other header types are not checked.
func checkHeader(h param, required bool) *graphError {
	if !h.present() {
		if required {
			return errRequired(h.path)
		}
		return nil
	}
	switch typ := h.at("type").str(); typ {
	case "text":
		return h.at("text").text(60)
	case "image", "video", "document":
		return firstError(h.at(typ).required, func() *graphError { return checkMedia(h.at(typ)) })
	}
	return h.at("type").required()
}

func checkBody(b param, required bool) *graphError {
	if !b.present() && !required {
		return nil
	}
	return firstError(b.required, func() *graphError { return b.at("text").text(1024) })
}

// optionalText checks an optional {"text": …} object.
func optionalText(p param, max int) *graphError {
	if !p.present() {
		return nil
	}
	return p.at("text").text(max)
}

// checkButtons: 1 to 3 reply buttons, ids of at most 256 characters and
// titles of at most 20, all unique.
func checkButtons(action param) *graphError {
	buttons, gerr := action.at("buttons").count(1, 3)
	if gerr != nil {
		return gerr
	}
	ids, titles := uniq{}, uniq{}
	for _, b := range buttons {
		reply := b.at("reply")
		if gerr := firstError(
			func() *graphError { return b.at("type").equals("reply") },
			func() *graphError { return reply.at("id").text(256) },
			func() *graphError { return reply.at("title").text(20) },
			func() *graphError { return ids.add(reply.at("id")) },
			func() *graphError { return titles.add(reply.at("title")) }); gerr != nil {
			return gerr
		}
	}
	return nil
}

// checkList: a button label of at most 20 characters, 1 to 10 sections (each
// titled, 24 characters at most, when there are several) holding 1 to 10 rows
// in all; row ids (200) unique, titles (24) and descriptions (72).
func checkList(action param) *graphError {
	if gerr := action.at("button").text(20); gerr != nil {
		return gerr
	}
	sections, gerr := action.at("sections").count(1, 10)
	if gerr != nil {
		return gerr
	}
	ids, rows := uniq{}, 0
	for _, sec := range sections {
		if gerr := sectionTitle(sec, len(sections) > 1); gerr != nil {
			return gerr
		}
		for _, r := range sec.at("rows").items() {
			rows++
			if gerr := checkRow(r, ids); gerr != nil {
				return gerr
			}
		}
	}
	if rows < 1 || rows > 10 {
		return errParam("A list message must have 1 to 10 rows in total.")
	}
	return nil
}

func sectionTitle(sec param, required bool) *graphError {
	if required {
		return sec.at("title").text(24)
	}
	return sec.at("title").optText(24)
}

func checkRow(r param, ids uniq) *graphError {
	return firstError(
		func() *graphError { return r.at("id").text(200) },
		func() *graphError { return r.at("title").text(24) },
		func() *graphError { return r.at("description").optText(72) },
		func() *graphError { return ids.add(r.at("id")) })
}

// checkCTAURL: action name cta_url, parameters.display_text (20 characters at
// most) and parameters.url, an http(s) URL.
func checkCTAURL(action param) *graphError {
	params := action.at("parameters")
	url := params.at("url")
	return firstError(
		func() *graphError { return params.at("display_text").text(20) },
		url.required,
		func() *graphError { return action.at("name").equals("cta_url") },
		func() *graphError {
			if !isHTTPLink(url.str()) {
				return errParam(fmt.Sprintf("Param %s must be an http or https URL.", url.path))
			}
			return nil
		})
}

// checkFlow: action name flow, flow_message_version, flow_cta (30 characters
// at most) and exactly one of flow_id and flow_name.
func checkFlow(action param) *graphError {
	params := action.at("parameters")
	return firstError(
		func() *graphError { return action.at("name").equals("flow") },
		params.at("flow_message_version").required,
		func() *graphError { return params.at("flow_cta").text(30) },
		func() *graphError {
			if (params.at("flow_id").str() == "") == (params.at("flow_name").str() == "") {
				return errParam(fmt.Sprintf("Param %s must have exactly one of 'flow_id' or 'flow_name'.", params.path))
			}
			return nil
		})
}

// checkSingleProduct is a single-product message: a catalog and a product.
func checkSingleProduct(action param) *graphError {
	return firstError(action.at("catalog_id").required, action.at("product_retailer_id").required)
}

// checkProductList: a catalog and 1 to 10 sections (titled when there are
// several) of 1 to 30 products, 30 in all.
func checkProductList(action param) *graphError {
	if gerr := action.at("catalog_id").required(); gerr != nil {
		return gerr
	}
	sections, gerr := action.at("sections").count(1, 10)
	if gerr != nil {
		return gerr
	}
	total := 0
	for _, sec := range sections {
		items, gerr := sec.at("product_items").count(1, 30)
		if gerr != nil {
			return gerr
		}
		if gerr := sectionTitle(sec, len(sections) > 1); gerr != nil {
			return gerr
		}
		for _, it := range items {
			if gerr := it.at("product_retailer_id").required(); gerr != nil {
				return gerr
			}
		}
		total += len(items)
	}
	if total > 30 {
		return errParam("A multi-product message may hold at most 30 products.")
	}
	return nil
}

// named checks only the action's name, for types whose parameters are optional.
func named(name string) func(param) *graphError {
	return func(action param) *graphError { return action.at("name").equals(name) }
}

// checkOrder: the action name and an order with its reference id.
func checkOrder(name string) func(param) *graphError {
	return func(action param) *graphError {
		params := action.at("parameters")
		return firstError(
			func() *graphError { return action.at("name").equals(name) },
			params.at("reference_id").required,
			params.at("order").required)
	}
}

// uniq refuses a value seen before under the same kind of parameter.
type uniq map[string]bool

func (u uniq) add(p param) *graphError {
	if u[p.str()] {
		return errParam(fmt.Sprintf("Param %s must be unique; %q is used twice.", p.path, p.str()))
	}
	u[p.str()] = true
	return nil
}
