package inbox_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/switchboard-dev/switchboard/runtime/inbox/campaigns"
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
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("pause with the read token: %d, want 403", resp.StatusCode)
	}
}
