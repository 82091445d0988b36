package inbox

import (
	"log/slog"
	"net/http"

	"github.com/switchboard-dev/switchboard/runtime/inbox/authz"
	"github.com/switchboard-dev/switchboard/runtime/inbox/contacts"
	"github.com/switchboard-dev/switchboard/runtime/inbox/export"
	"github.com/switchboard-dev/switchboard/runtime/store"
)

// registerContacts serves the contacts import, the segments and the exports
// (docs/contacts.md, docs/export.md), each behind its own permission.
func registerContacts(mux *http.ServeMux, s *store.Store, namespace string, auth authz.Authenticator, log *slog.Logger) {
	contacts.NewAPI(s, namespace, log).Register(mux, auth)
	export.NewAPI(s, namespace, log).Register(mux, auth)
}
