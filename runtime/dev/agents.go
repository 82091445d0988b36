package dev

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	sbv1 "github.com/switchboard-dev/switchboard/api/v1alpha1"
)

// devInboxRef is the sample Inbox that dev mode runs.
var devInboxRef = client.ObjectKey{Namespace: "acme", Name: "support"}

// devAgent is a sample agent with its dev-mode password.
type devAgent struct{ login, role, password string }

// devPassword is the password dev mode gives a sample agent: known, so that a person
// trying the walkthrough can log in (dev mode only; a real Inbox's passwords are set by
// its admin, never derived).
func devPassword(login string) string { return login + "-dev-password" }

// setDevPasswords logs in to the sample inbox as "admin" with the password of the
// Secret support-initial-admin (made by the manager), then gives every agent declared
// in the sample Inbox's spec.agents, and the admin last, its dev password through the
// agents' API (POST /api/v1/agents/{login}/reset-password). It waits up to limit for the
// inbox and the admin account, which it watches with the read token (tokenFile) before
// logging in: a login before the account exists is a failed login, and five of them
// lock the account for 15 minutes (docs/auth.md).
func setDevPasswords(ctx context.Context, c client.Client, inboxAddr, tokenFile string, limit time.Duration) ([]devAgent, error) {
	ib := &sbv1.Inbox{}
	if err := c.Get(ctx, devInboxRef, ib); err != nil {
		return nil, err
	}
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	base := "http://" + inboxAddr
	var csrf string
	deadline := time.Now().Add(limit)
	for {
		sec := &corev1.Secret{}
		err := c.Get(ctx, client.ObjectKey{Namespace: devInboxRef.Namespace, Name: devInboxRef.Name + "-initial-admin"}, sec)
		if err == nil {
			err = adminExists(hc, base, tokenFile)
		}
		if err == nil {
			csrf, err = devLogin(hc, base, "admin", string(sec.Data["password"]))
			if err != nil {
				// The admin may have its dev password already (a restarted inbox).
				csrf, err = devLogin(hc, base, "admin", devPassword("admin"))
			}
		}
		if err == nil {
			break
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return nil, fmt.Errorf("logging in to the sample inbox as admin: %w", err)
		}
		time.Sleep(500 * time.Millisecond)
	}
	var out []devAgent
	for _, a := range ib.Spec.Agents {
		out = append(out, devAgent{a.Login, a.Role, devPassword(a.Login)})
	}
	out = append(out, devAgent{"admin", "admin", devPassword("admin")})
	for _, a := range out {
		body, _ := json.Marshal(map[string]string{"password": a.password})
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/api/v1/agents/"+a.login+"/reset-password", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-CSRF-Token", csrf)
		if err := devCall(hc, req, http.StatusNoContent, nil); err != nil {
			return nil, fmt.Errorf("setting %s's dev password: %w", a.login, err)
		}
	}
	return out, nil
}

// adminExists is nil once the inbox lists the account "admin" (GET /api/v1/agents with
// the read token, an auditor's).
func adminExists(hc *http.Client, base, tokenFile string) error {
	token, err := os.ReadFile(tokenFile)
	if err != nil {
		return err
	}
	req, _ := http.NewRequest(http.MethodGet, base+"/api/v1/agents", nil)
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(token)))
	var list struct {
		Items []struct {
			Login string `json:"login"`
		} `json:"items"`
	}
	if err := devCall(hc, req, http.StatusOK, &list); err != nil {
		return err
	}
	for _, a := range list.Items {
		if a.Login == "admin" {
			return nil
		}
	}
	return errors.New("the inbox has no admin account yet")
}

// devLogin logs in and returns the session's CSRF token (the cookie stays in hc's jar).
func devLogin(hc *http.Client, base, login, password string) (string, error) {
	body, _ := json.Marshal(map[string]string{"login": login, "password": password})
	req, _ := http.NewRequest(http.MethodPost, base+"/api/v1/login", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	var me struct {
		CSRFToken string `json:"csrfToken"`
	}
	return me.CSRFToken, devCall(hc, req, http.StatusOK, &me)
}

func devCall(hc *http.Client, req *http.Request, want int, v any) error {
	res, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer func() { _ = res.Body.Close() }()
	b, _ := io.ReadAll(io.LimitReader(res.Body, 1<<16))
	if res.StatusCode != want {
		return errors.New(res.Status + ": " + string(bytes.TrimSpace(b)))
	}
	if v != nil {
		return json.Unmarshal(b, v)
	}
	return nil
}

// printDevAgents shows the sample agents' logins and dev passwords, and how to log in.
func printDevAgents(w io.Writer, inboxAddr, tokenFile string, agents []devAgent) {
	fmt.Fprintln(w, "\nThe sample Inbox's agents (dev passwords; a real Inbox's admin sets passwords, see docs/auth.md):")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  LOGIN\tROLE\tPASSWORD")
	for _, a := range agents {
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", a.login, a.role, a.password)
	}
	_ = tw.Flush()
	fmt.Fprintln(w, "Log in (the session cookie goes to a cookie jar; send the printed csrfToken as X-CSRF-Token on changes):")
	fmt.Fprintf(w, "  curl -c /tmp/sb-cookies -H 'Content-Type: application/json' -d '{\"login\":\"ana\",\"password\":%q}' http://%s/api/v1/login\n",
		devPassword("ana"), inboxAddr)
	fmt.Fprintf(w, "  curl -b /tmp/sb-cookies http://%s/api/v1/me\n", inboxAddr)
	printRoutingWalkthrough(w, inboxAddr, tokenFile)
}

// printRoutingWalkthrough shows an agent's day with curl: online, a conversation
// assigned and accepted, a reply, a resolve, and the next waiting conversation assigned.
// Outside RoutingPolicy sales' business hours nothing is assigned, so it shows the
// supervisor sofia assigning the waiting conversation by hand (POST
// /api/v1/conversations/{id}/assign, docs/routing.md).
// The queue is read with the read API's token (tokenFile): an agent sees only her own
// and her team's conversations (docs/permissions.md#visibility).
func printRoutingWalkthrough(w io.Writer, inboxAddr, tokenFile string) {
	jar := "-b /tmp/sb-cookies -H \"X-CSRF-Token: $CSRF\" -H 'Content-Type: application/json'"
	login := func(cookies, who string) string {
		return fmt.Sprintf("$(curl -s -c %s -H 'Content-Type: application/json' -d '{\"login\":%q,\"password\":%q}' http://%s/api/v1/login | sed 's/.*\"csrfToken\":\"\\([^\"]*\\)\".*/\\1/')",
			cookies, who, devPassword(who), inboxAddr)
	}
	fmt.Fprintln(w, "\nWork conversations as ana (team iberia: the Spanish number). Log in keeping the CSRF token, and go online:")
	fmt.Fprintf(w, "  CSRF=%s\n", login("/tmp/sb-cookies", "ana"))
	fmt.Fprintf(w, "  curl %s -X PUT -d '{\"availability\":\"online\"}' http://%s/api/v1/me/availability\n", jar, inboxAddr)
	fmt.Fprintln(w, "A customer writes: run the simulator's inbound command printed above (curl .../_sim/events with")
	fmt.Fprintln(w, "\"inbound\"; `switchboard send` writes to a customer and opens no conversation). Within RoutingPolicy sales' business hours the")
	fmt.Fprintln(w, "routing assigns the new conversation to an online agent of its team at once; outside them, or when")
	fmt.Fprintln(w, "every agent is at capacity, it waits in the queue (shown with the read API's token: an agent sees")
	fmt.Fprintln(w, "only her own conversations and her team's):")
	fmt.Fprintf(w, "  curl -b /tmp/sb-cookies 'http://%s/api/v1/conversations?assignee=ana'\n", inboxAddr)
	fmt.Fprintf(w, "  curl -H \"Authorization: Bearer $(cat %s)\" 'http://%s/api/v1/conversations?waiting=true'\n", tokenFile, inboxAddr)
	fmt.Fprintf(w, "If it waits, sales' business hours are closed (%s):\n", salesHours)
	fmt.Fprintln(w, "the customer got the after-hours reply, and the routing assigns nothing until they open. The")
	fmt.Fprintln(w, "supervisor sofia assigns it to ana by hand (ID: the waiting conversation's id), with a session of her own:")
	fmt.Fprintf(w, "  SOFIA_CSRF=%s\n", login("/tmp/sb-sofia", "sofia"))
	fmt.Fprintf(w, "  curl -b /tmp/sb-sofia -H \"X-CSRF-Token: $SOFIA_CSRF\" -H 'Content-Type: application/json' -d '{\"agent\":\"ana\"}' http://%s/api/v1/conversations/ID/assign\n", inboxAddr)
	fmt.Fprintln(w, "Accept it within the policy's assignWithin (5m in the sample), or it goes to the next agent (a")
	fmt.Fprintln(w, "manual assignment counts as accepted); reply, then resolve (ID: the conversation's id); within")
	fmt.Fprintln(w, "business hours the longest-waiting conversation then goes to ana:")
	fmt.Fprintf(w, "  curl %s -d '{}' http://%s/api/v1/conversations/ID/accept\n", jar, inboxAddr)
	fmt.Fprintf(w, "  curl %s -d '{\"text\":\"Hola, ¿en qué puedo ayudarle?\"}' http://%s/api/v1/conversations/ID/messages\n", jar, inboxAddr)
	fmt.Fprintf(w, "  curl %s -d '{}' http://%s/api/v1/conversations/ID/resolve\n", jar, inboxAddr)
	fmt.Fprintf(w, "The web page: http://%s/ (the same logins).\n", inboxAddr)
}

// salesHours are the business hours of the sample RoutingPolicy sales
// (config/samples/20-routingpolicies.yaml), as the walkthrough prints them.
const salesHours = "Europe/Madrid: Mon–Fri 09:00–18:00, Sat 10:00–14:00, not on holidays"
