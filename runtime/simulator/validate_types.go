package simulator

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// The checks of each message type's object, with the limits of Meta's
// messages reference and of its OpenAPI description (InteractiveObject,
// HeaderObject, BodyObject, FooterObject, ActionObject, SectionObject,
// ContactObject, LocationMessage): required members, lengths in characters,
// counts and uniqueness.

func checkText(p param) *graphError {
	return firstError(
		func() *graphError { return p.at("body").text(4096) },
		func() *graphError { return isBool(p.at("preview_url")) })
}

func isBool(p param) *graphError {
	if _, ok := p.v.(bool); p.present() && !ok {
		return errParam(fmt.Sprintf("Param %s must be a boolean.", p.path))
	}
	return nil
}

// checkMedia: an uploaded media id or a link, never both, and a caption of
// at most 1,024 characters.
func checkMedia(p param) *graphError {
	id, link := p.at("id").str(), p.at("link").str()
	if (id == "") == (link == "") {
		return errParam(fmt.Sprintf("Param %s must have exactly one of 'id' or 'link'.", p.path))
	}
	return p.at("caption").optText(1024)
}

func checkReaction(p param) *graphError {
	if gerr := p.at("message_id").required(); gerr != nil {
		return gerr
	}
	if _, ok := p.at("emoji").v.(string); !ok {
		return errRequired(p.at("emoji").path) // "" removes a reaction, so only absence is refused
	}
	return nil
}

// checkLocation: latitude in [-90, 90] and longitude in [-180, 180], as
// numbers or numeric strings (the OpenAPI description types them as strings,
// Meta's examples send numbers).
func checkLocation(p param) *graphError {
	return firstError(
		func() *graphError { return coordinate(p.at("latitude"), 90) },
		func() *graphError { return coordinate(p.at("longitude"), 180) })
}

func coordinate(p param, limit float64) *graphError {
	if gerr := p.required(); gerr != nil {
		return gerr
	}
	var f float64
	var err error
	switch v := p.v.(type) {
	case float64:
		f = v
	case string:
		f, err = strconv.ParseFloat(v, 64)
	default:
		err = fmt.Errorf("not a number")
	}
	if err != nil || math.Abs(f) > limit || math.IsNaN(f) {
		return errParam(fmt.Sprintf("Param %s must be a number between -%g and %g.", p.path, limit, limit))
	}
	return nil
}

// checkContacts: at least one contact card, each with name.formatted_name and
// at least one other name part (Meta: "At least one of the optional
// parameters needs to be included along with the formatted_name parameter"),
// and an address in each email entry.
func checkContacts(p param) *graphError {
	cards, gerr := p.count(1, unbounded)
	if gerr != nil {
		return gerr
	}
	for _, c := range cards {
		if gerr := checkContactCard(c); gerr != nil {
			return gerr
		}
	}
	return nil
}

var nameParts = []string{"first_name", "last_name", "middle_name", "suffix", "prefix"}

func checkContactCard(c param) *graphError {
	name := c.at("name")
	if gerr := firstError(name.required, name.at("formatted_name").required); gerr != nil {
		return gerr
	}
	if !slices.ContainsFunc(nameParts, func(k string) bool { return name.at(k).str() != "" }) {
		return errParam(fmt.Sprintf("Param %s needs one of %s besides formatted_name.", name.path, strings.Join(nameParts, ", ")))
	}
	for _, e := range c.at("emails").items() {
		if gerr := e.at("email").required(); gerr != nil {
			return gerr
		}
	}
	return nil
}

// checkTemplate: name, language code, and for each component its type, a
// button's sub_type and index, and each parameter by its type.
func checkTemplate(p param) *graphError {
	if gerr := firstError(p.at("name").required, p.at("language").at("code").required); gerr != nil {
		return gerr
	}
	comps := p.at("components")
	if _, ok := comps.v.([]any); comps.present() && !ok {
		return errParam(fmt.Sprintf("Param %s must be an array.", comps.path))
	}
	for _, c := range comps.items() {
		if gerr := checkComponent(c); gerr != nil {
			return gerr
		}
	}
	return nil
}

func checkComponent(c param) *graphError {
	if gerr := c.at("type").required(); gerr != nil {
		return gerr
	}
	button := c.at("type").str() == "button"
	if button {
		if gerr := firstError(c.at("sub_type").required, c.at("index").required); gerr != nil {
			return gerr
		}
	}
	for _, prm := range c.at("parameters").items() {
		if gerr := checkTemplateParameter(prm, button); gerr != nil {
			return gerr
		}
	}
	return nil
}

// checkTemplateParameter checks one parameter by its type. A button's text
// parameter is the payload of the template's button, whose shape Meta's own
// examples vary (even a boolean), so only header and body text is checked.
func checkTemplateParameter(prm param, button bool) *graphError {
	if gerr := prm.at("type").required(); gerr != nil {
		return gerr
	}
	switch typ := prm.at("type").str(); typ {
	case "text":
		if button {
			return nil
		}
		return checkTextParameter(prm)
	case "currency":
		cur := prm.at("currency")
		return firstError(cur.at("fallback_value").required, cur.at("code").required, cur.at("amount_1000").required)
	case "date_time":
		return prm.at("date_time").at("fallback_value").required()
	case "image", "video", "document":
		return firstError(prm.at(typ).required, func() *graphError { return checkMedia(prm.at(typ)) })
	case "payload":
		return prm.at("payload").required()
	}
	return nil
}

// checkTextParameter: the text itself, a named parameter's name, and the
// characters Meta refuses in template text parameters (132018).
func checkTextParameter(prm param) *graphError {
	text, ok := prm.at("text").v.(string)
	if !ok || text == "" {
		return errParam("Parameter 'text' is mandatory for component parameter type 'text'")
	}
	if name, named := prm.at("parameter_name").v.(string); prm.at("parameter_name").present() && (!named || name == "") {
		return errParam("Parameter name is missing or empty")
	}
	if badTemplateText(text) {
		return errTemplateParamText()
	}
	return nil
}

// badTemplateText reports what Meta refuses in a template text parameter
// with 132018: a new-line or tab character, or more than four consecutive
// spaces.
func badTemplateText(s string) bool {
	return strings.ContainsAny(s, "\n\r\t") || strings.Contains(s, "     ")
}
