package whatsapp_test

import (
	"context"
	"errors"
	"testing"

	"github.com/switchboard-dev/switchboard/runtime/whatsapp"
)

func TestListTemplatesRefusesBadInput(t *testing.T) {
	c, err := whatsapp.New(whatsapp.Options{BaseURL: "http://127.0.0.1:1", AccessToken: "t"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ListTemplates(context.Background(), "", whatsapp.ListTemplatesOptions{}); !errors.Is(err, whatsapp.ErrInvalidMessage) {
		t.Errorf("empty WABA: %v", err)
	}
	if _, err := c.ListTemplates(context.Background(), "1", whatsapp.ListTemplatesOptions{PageSize: 1001}); err == nil {
		t.Error("page size 1001 accepted")
	}
}

func TestTemplateParams(t *testing.T) {
	tp := whatsapp.MessageTemplate{Components: []whatsapp.MessageTemplateSection{
		{Type: "HEADER", Text: "Hi {{1}}"}, {Type: "BODY", Text: "{{1}} and {{ 2 }} and {{1}} again, not {1}"}}}
	if tp.Params("BODY") != 2 || tp.Params("HEADER") != 1 || tp.Params("FOOTER") != 0 {
		t.Errorf("params: body %d header %d", tp.Params("BODY"), tp.Params("HEADER"))
	}
}
