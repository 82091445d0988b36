package inbox_test

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/switchboard-dev/switchboard/runtime/inbox"
	"github.com/switchboard-dev/switchboard/runtime/inbox/campaigns"
	"github.com/switchboard-dev/switchboard/runtime/inbox/contacts"
	"github.com/switchboard-dev/switchboard/runtime/inbox/openapi/openapitest"
	"github.com/switchboard-dev/switchboard/runtime/store"
)

// TestInboxRunsCampaigns: the inbox runs the campaign runner (a started campaign reaches
// the outbox) and serves /api/v1/campaigns; its read token is an auditor, who reads
// campaigns and may not change them.
func TestInboxRunsCampaigns(t *testing.T) {
	dsn := srv.NewDatabase(t)
	s := startServer(t, dsn, served(numA))
	waitStatus(t, s.probes+"/readyz", 200)
	st, err := store.Open(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var c campaigns.Campaign
	err = st.InTx(t.Context(), func(tx pgx.Tx) error {
		if c, err = campaigns.Create(t.Context(), tx, "acme", "cli:ops", campaigns.Spec{Name: "hello", Number: numA.Ref.Name,
			Template: "hello_world", Language: "en_US",
			Target: campaigns.Target{Recipients: []campaigns.Recipient{{Phone: "+34 611 000 001"}}}}, nil); err != nil {
			return err
		}
		_, err = campaigns.Transition(t.Context(), tx, "acme", c.ID, "start", "cli:ops", time.Now())
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		var n int
		if err := st.ReadTx(t.Context(), func(tx pgx.Tx) error {
			return tx.QueryRow(t.Context(), `SELECT count(*) FROM outbox WHERE campaign_id = $1 AND recipient = '34611000001'`, c.ID).Scan(&n)
		}); err != nil {
			t.Fatal(err)
		}
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the inbox's runner did not enqueue the campaign's recipient")
		}
		time.Sleep(50 * time.Millisecond)
	}
	url := fmt.Sprintf("%s/api/v1/campaigns/%d", s.traffic, c.ID)
	if code, body := get(t, url, token); code != 200 || !strings.Contains(body, `"queued":1`) {
		t.Errorf("GET: %d %s", code, body)
	}
	req, _ := http.NewRequest(http.MethodPost, url+"/pause", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := openapitest.Client(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("pause with the read token: %d, want 403", resp.StatusCode)
	}
}

// TestCampaignToSegment: a campaign to a segment of the contacts helper takes the
// contacts its filter selects (tags and attributes), once each; an unknown segment is
// refused naming target.segment and leaves nothing.
func TestCampaignToSegment(t *testing.T) {
	st, err := store.Open(t.Context(), srv.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	err = st.InTx(t.Context(), func(tx pgx.Tx) error {
		if _, err := tx.Exec(t.Context(), `INSERT INTO contacts (namespace, wa_id, tags, attributes) VALUES
			('acme', '34611000001', '{vip}', '{"tier":"gold"}'), ('acme', '34611000002', '{vip}', '{"tier":"silver"}'),
			('acme', '34611000003', '{}', '{"tier":"gold"}'), ('other', '34611000004', '{vip}', '{"tier":"gold"}')`); err != nil {
			return err
		}
		_, err := contacts.CreateSegment(t.Context(), tx, "acme", "cli:ops", contacts.Segment{Name: "gold-vip",
			Filter: contacts.Filter{Tags: contacts.TagFilter{AllOf: []string{"vip"}}, Attributes: map[string]any{"tier": "gold"}}})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	create := func(name, segment string) (campaigns.Campaign, error) {
		var c campaigns.Campaign
		err := st.InTx(t.Context(), func(tx pgx.Tx) (err error) {
			c, err = campaigns.Create(t.Context(), tx, "acme", "cli:ops", campaigns.Spec{Name: name, Number: numA.Ref.Name,
				Template: "hello_world", Language: "en_US", Target: campaigns.Target{Segment: segment}}, inbox.CampaignSegments())
			return err
		})
		return c, err
	}
	var fe *campaigns.Error
	if _, err := create("nope", "missing"); !errors.As(err, &fe) || fe.Field != "target.segment" {
		t.Fatalf("unknown segment: %v", err)
	}
	c, err := create("gold", "gold-vip")
	if err != nil {
		t.Fatal(err)
	}
	var members []string
	err = st.ReadTx(t.Context(), func(tx pgx.Tx) error {
		rows, _ := tx.Query(t.Context(), `SELECT wa_id FROM campaign_members WHERE campaign_id = $1 ORDER BY wa_id`, c.ID)
		members, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})
	if err != nil || len(members) != 1 || members[0] != "34611000001" {
		t.Fatalf("members %v (%v), want the one gold vip of acme", members, err)
	}
	var n int
	_ = st.ReadTx(t.Context(), func(tx pgx.Tx) error {
		return tx.QueryRow(t.Context(), `SELECT count(*) FROM campaigns`).Scan(&n)
	})
	if n != 1 {
		t.Fatalf("%d campaigns, want only the one that was created", n)
	}
}
