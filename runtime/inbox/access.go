package inbox

import (
	"sync/atomic"

	"github.com/switchboard-dev/switchboard/runtime/inbox/auth"
	"github.com/switchboard-dev/switchboard/runtime/inbox/kube"
)

// directoryOf turns the snapshot's Access into the auth package's Directory, converting
// once per snapshot (the snapshot is immutable; a new one is a new pointer).
func directoryOf(snapshot func() *kube.Snapshot) func() auth.Directory {
	type cached struct {
		snap *kube.Snapshot
		dir  auth.Directory
	}
	var last atomic.Pointer[cached]
	return func() auth.Directory {
		snap := snapshot()
		if snap == nil {
			return auth.Directory{}
		}
		if c := last.Load(); c != nil && c.snap == snap {
			return c.dir
		}
		a := snap.Access
		d := auth.Directory{Roles: a.Roles, Teams: a.Teams, InitialAdminPassword: a.InitialAdminPassword}
		for _, ag := range a.Agents {
			d.Agents = append(d.Agents, auth.DeclaredAgent{Login: ag.Login, DisplayName: ag.DisplayName, Role: ag.Role})
		}
		if o := a.OIDC; o != nil {
			d.OIDC = &auth.OIDCConfig{Issuer: o.Issuer, ClientID: o.ClientID, ClientSecret: o.ClientSecret,
				GroupsClaim: o.GroupsClaim, UsernameClaim: o.UsernameClaim, RedirectURL: o.RedirectURL}
			for _, b := range o.GroupBindings {
				d.OIDC.GroupBindings = append(d.OIDC.GroupBindings, auth.GroupBinding{Group: b.Group, Role: b.Role})
			}
		}
		last.Store(&cached{snap: snap, dir: d})
		return d
	}
}
