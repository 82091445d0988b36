package reports

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/switchboard-dev/switchboard/runtime/inbox/authz"
	"github.com/switchboard-dev/switchboard/runtime/inbox/conversation"
	"github.com/switchboard-dev/switchboard/runtime/inbox/httpapi"
	"github.com/switchboard-dev/switchboard/runtime/inbox/problem"
	"github.com/switchboard-dev/switchboard/runtime/store"
)

// MaxRateCardBytes bounds an uploaded rate card (Meta's are about 10 KB).
const MaxRateCardBytes = 1 << 20

// API serves the reports (docs/reports.md):
//
//	GET /api/v1/reports/conversations?from=&to=&by=number|team|agent&number=&format=json|csv   reports.read
//	GET /api/v1/reports/satisfaction?from=&to=&by=…&number=&format=…                          reports.read
//	GET /api/v1/reports/cost?from=&to=&number=&format=…                                       reports.read
//	GET /api/v1/reports/rate-card                                                             reports.read
//	PUT /api/v1/reports/rate-card  (text/csv, Meta's rate card layout)                        reports.manage
type API struct {
	Store     *store.Store
	Namespace string
	Log       *slog.Logger
	Now       func() time.Time // default time.Now
}

// Register adds the endpoints to mux behind auth (the inbox's authenticator).
func (a *API) Register(mux *http.ServeMux, auth authz.Authenticator) {
	route := func(pattern string, perm authz.Permission, h http.HandlerFunc) {
		mux.Handle(pattern, authz.Authenticate(auth, authz.Require(perm, h)))
	}
	route("GET /api/v1/reports/conversations", authz.ReportsRead, a.conversations)
	route("GET /api/v1/reports/satisfaction", authz.ReportsRead, a.satisfaction)
	route("GET /api/v1/reports/cost", authz.ReportsRead, a.cost)
	route("GET /api/v1/reports/rate-card", authz.ReportsRead, a.rateCard)
	route("PUT /api/v1/reports/rate-card", authz.ReportsManage, a.putRateCard)
}

func (a *API) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

// query reads the common parameters.
func (a *API) query(r *http.Request) (Period, By, Filter, bool, error) {
	q := r.URL.Query()
	p, err := ParsePeriod(q, a.now())
	if err != nil {
		return p, "", Filter{}, false, err
	}
	by, err := ParseBy(q.Get("by"))
	if err != nil {
		return p, "", Filter{}, false, err
	}
	csvOut := false
	switch f := q.Get("format"); f {
	case "", "json":
		csvOut = f == "" && strings.Contains(r.Header.Get("Accept"), "text/csv")
	case "csv":
		csvOut = true
	default:
		return p, "", Filter{}, false, &ParamError{Param: "format", Msg: fmt.Sprintf("format must be json or csv, got %q", f)}
	}
	return p, by, Filter{Number: q.Get("number")}, csvOut, nil
}

func (a *API) conversations(w http.ResponseWriter, r *http.Request) {
	p, by, f, csvOut, err := a.query(r)
	var rows []ConversationRow
	if err == nil {
		err = a.Store.ReadTx(r.Context(), func(tx pgx.Tx) (err error) {
			rows, err = Conversations(r.Context(), tx, a.Namespace, p, by, f)
			return err
		})
	}
	answer(a, w, err, csvOut, p, by, rows, []string{"key", "opened", "resolved", "first_response_p50_s", "first_response_p90_s",
		"resolution_p50_s", "resolution_p90_s", "answered_by_keyword_rules_share", "answered_by_chatbot_share", "assigned_within_5s_share"},
		func(x ConversationRow) []string {
			return []string{x.Key, itoa(x.Opened), itoa(x.Resolved), fopt(x.FirstResponseP50), fopt(x.FirstResponseP90),
				fopt(x.ResolutionP50), fopt(x.ResolutionP90), ftoa(x.AutoKeywordShare), ftoa(x.AutoChatbotShare), ftoa(x.AssignedWithin5s)}
		})
}

func (a *API) satisfaction(w http.ResponseWriter, r *http.Request) {
	p, by, f, csvOut, err := a.query(r)
	var rows []SatisfactionRow
	if err == nil {
		err = a.Store.ReadTx(r.Context(), func(tx pgx.Tx) (err error) {
			rows, err = Satisfaction(r.Context(), tx, a.Namespace, p, by, f)
			return err
		})
	}
	answer(a, w, err, csvOut, p, by, rows, []string{"key", "sent", "answered", "rating_1", "rating_2", "rating_3", "rating_4", "rating_5", "mean"},
		func(x SatisfactionRow) []string {
			d := x.Distribution
			return []string{x.Key, itoa(x.Sent), itoa(x.Answered), itoa(d[0]), itoa(d[1]), itoa(d[2]), itoa(d[3]), itoa(d[4]), fopt(x.Mean)}
		})
}

func (a *API) cost(w http.ResponseWriter, r *http.Request) {
	p, _, f, csvOut, err := a.query(r)
	var rows []CostRow
	if err == nil {
		err = a.Store.ReadTx(r.Context(), func(tx pgx.Tx) (err error) {
			rows, err = Cost(r.Context(), tx, a.Namespace, p, f)
			return err
		})
	}
	answer(a, w, err, csvOut, p, "", rows, []string{"number", "country", "category", "messages", "free", "currency", "cost", "priced"},
		func(x CostRow) []string {
			return []string{x.Number, x.Country, x.Category, itoa(x.Messages), itoa(x.Free), x.Currency,
				microsText(x.CostMicros), strconv.FormatBool(x.Priced)}
		})
}

func (a *API) rateCard(w http.ResponseWriter, r *http.Request) {
	var rates []Rate
	err := a.Store.ReadTx(r.Context(), func(tx pgx.Tx) error {
		rs, err := tx.Query(r.Context(), `SELECT market, category, currency, price_micros FROM rate_cards WHERE namespace = $1
			ORDER BY market, category`, a.Namespace)
		if err != nil {
			return err
		}
		rates, err = pgx.CollectRows(rs, pgx.RowToStructByPos[Rate])
		return err
	})
	if err != nil {
		a.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": nonNil(rates)})
}

func (a *API) putRateCard(w http.ResponseWriter, r *http.Request) {
	rc, err := ParseRateCard(httpapi.LimitBody(w, r, MaxRateCardBytes))
	if err != nil {
		if p := httpapi.TooLarge(err); p != nil {
			problem.Write(w, *p)
			return
		}
		problem.RespondField(w, http.StatusBadRequest, "body", "the rate card: "+err.Error())
		return
	}
	actor := authz.FromContext(r.Context()).Actor()
	err = a.Store.InTx(r.Context(), func(tx pgx.Tx) error {
		if err := StoreRateCard(r.Context(), tx, a.Namespace, rc); err != nil {
			return err
		}
		return conversation.Audit(r.Context(), tx, a.Namespace, actor, "rate-card.replace", "rate-card", a.Namespace, nil,
			map[string]any{"markets": rc.Countries, "rates": len(rc.Rates), "unmappedMarkets": rc.Unmapped})
	})
	if err != nil {
		a.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, rc)
}

// answer writes rows as JSON ({"from","to","by","items"}) or CSV (a header row, then one
// row per item), or the error.
func answer[T any](a *API, w http.ResponseWriter, err error, csvOut bool, p Period, by By, rows []T, header []string, record func(T) []string) {
	if err != nil {
		a.fail(w, err)
		return
	}
	if !csvOut {
		writeJSON(w, http.StatusOK, map[string]any{"from": p.From.UTC(), "to": p.To.UTC(), "by": by, "items": nonNil(rows)})
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	cw := csv.NewWriter(w)
	_ = cw.Write(header)
	for _, x := range rows {
		_ = cw.Write(record(x))
	}
	cw.Flush()
}

func (a *API) fail(w http.ResponseWriter, err error) {
	if pe, ok := IsParam(err); ok {
		problem.RespondField(w, http.StatusBadRequest, pe.Param, pe.Msg)
		return
	}
	a.Log.Error("reports: reading the database", "error", err)
	problem.Respond(w, http.StatusServiceUnavailable, "the database is unavailable, retry later")
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func itoa(n int64) string   { return strconv.FormatInt(n, 10) }
func ftoa(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

func fopt(f *float64) string {
	if f == nil {
		return ""
	}
	return strconv.FormatFloat(*f, 'f', 3, 64)
}

// microsText writes micros as a decimal with 6 places ("0.061800").
func microsText(m int64) string { return fmt.Sprintf("%d.%06d", m/1_000_000, m%1_000_000) }
