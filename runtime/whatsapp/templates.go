package whatsapp

import (
	"context"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
)

// Template statuses and categories as Graph lists them (Meta: "WhatsApp
// Business Account > Message Templates",
// https://developers.facebook.com/docs/graph-api/reference/whats-app-business-account/message_templates/).
const (
	TemplateApproved = "APPROVED"

	CategoryMarketing      = "MARKETING"
	CategoryUtility        = "UTILITY"
	CategoryAuthentication = "AUTHENTICATION"
)

// MessageTemplate is one template of a WhatsApp Business Account as
// GET /{waba-id}/message_templates returns it. A template is addressed by
// its name and language together: sending a (name, language) pair the WABA
// does not have approved fails with 132001.
type MessageTemplate struct {
	ID         string                   `json:"id"`
	Name       string                   `json:"name"`     // e.g. order_update
	Language   string                   `json:"language"` // e.g. en_US
	Status     string                   `json:"status"`   // APPROVED, PENDING, REJECTED, PAUSED, DISABLED…
	Category   string                   `json:"category"` // MARKETING, UTILITY, AUTHENTICATION
	Components []MessageTemplateSection `json:"components,omitempty"`
}

// MessageTemplateSection is a component of a listed template: HEADER, BODY,
// FOOTER or BUTTONS, with its text and {{n}} placeholders.
type MessageTemplateSection struct {
	Type   string `json:"type"`
	Format string `json:"format,omitempty"`
	Text   string `json:"text,omitempty"`
}

var placeholder = regexp.MustCompile(`\{\{\s*([0-9]+)\s*\}\}`)

// Params returns how many parameters the component of type typ ("BODY" or
// "HEADER") expects: its distinct {{n}} placeholders. A send with another
// count fails with 132000.
func (t MessageTemplate) Params(typ string) int {
	seen := map[string]bool{}
	for _, c := range t.Components {
		if c.Type != typ {
			continue
		}
		for _, m := range placeholder.FindAllStringSubmatch(c.Text, -1) {
			seen[m[1]] = true
		}
	}
	return len(seen)
}

// ListTemplatesOptions filters ListTemplates. Zero values list everything.
type ListTemplatesOptions struct {
	ApprovedOnly bool   // only status APPROVED (the templates a send may use)
	Name         string // only templates with this name
	PageSize     int    // Graph's `limit` per request; default 100, at most 1,000
	MaxTemplates int    // stop after this many; default 10,000 (a guard against endless paging)
}

// ListTemplates returns the message templates of the WhatsApp Business
// Account wabaID, following Graph's cursor paging (paging.cursors.after,
// while paging.next is present) until the last page. With ApprovedOnly it
// asks Graph for status=APPROVED and drops any other status that still comes
// back. Errors are *Error values as for Send (for example code 100 with
// subcode 33 for an unknown WABA, 190 for a bad token).
func (c *Client) ListTemplates(ctx context.Context, wabaID string, opts ListTemplatesOptions) ([]MessageTemplate, error) {
	if !validID(wabaID) {
		return nil, fmt.Errorf("%w: WhatsApp Business Account ID is required", ErrInvalidMessage)
	}
	size := opts.PageSize
	if size <= 0 {
		size = 100
	}
	if size > 1000 {
		return nil, fmt.Errorf("whatsapp: ListTemplates: PageSize %d is over Graph's 1,000", size)
	}
	maxN := opts.MaxTemplates
	if maxN <= 0 {
		maxN = 10_000
	}
	q := url.Values{"limit": {strconv.Itoa(size)}}
	if opts.ApprovedOnly {
		q.Set("status", TemplateApproved)
	}
	if opts.Name != "" {
		q.Set("name", opts.Name)
	}
	var out []MessageTemplate
	for {
		var page struct {
			Data   []MessageTemplate `json:"data"`
			Paging struct {
				Cursors struct {
					After string `json:"after"`
				} `json:"cursors"`
				Next string `json:"next"`
			} `json:"paging"`
		}
		if err := c.do(ctx, "GET", c.endpoint(q, wabaID, "message_templates"), nil, &page); err != nil {
			return nil, err
		}
		for _, t := range page.Data {
			if (!opts.ApprovedOnly || t.Status == TemplateApproved) && (opts.Name == "" || t.Name == opts.Name) {
				out = append(out, t)
			}
		}
		after := page.Paging.Cursors.After
		if page.Paging.Next == "" || after == "" || len(page.Data) == 0 {
			return out, nil
		}
		if len(out) >= maxN {
			return out[:maxN], nil
		}
		q.Set("after", after)
	}
}
