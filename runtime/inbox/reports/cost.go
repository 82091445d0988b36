package reports

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"golang.org/x/text/language"
	"golang.org/x/text/language/display"

	"github.com/switchboard-dev/switchboard/runtime/phone"
)

// Categories are Meta's pricing categories that a rate card prices (Meta, "Pricing":
// per delivered template message, by category and the recipient's country calling code).
var Categories = []string{"marketing", "utility", "authentication", "authentication-international", "service"}

// Rate is one price of a rate card: a delivered message of Category to Market (an ISO
// 3166-1 alpha-2 code, or OTHER for every market not listed), in millionths of Currency.
type Rate struct {
	Market      string `json:"market"`
	Category    string `json:"category"`
	Currency    string `json:"currency"`
	PriceMicros int64  `json:"priceMicros"`
}

// RateCard is a parsed rate card, with the markets of the file that name no country
// (Meta's regional markets such as "Rest of Africa"), which the user must list by
// country code to be priced.
type RateCard struct {
	Rates     []Rate   `json:"rates"`
	Unmapped  []string `json:"unmappedMarkets,omitempty"`
	Countries int      `json:"markets"`
}

// marketAliases are Meta's market names that are not a country's English name.
var marketAliases = map[string][]string{
	"north america": {"US", "CA"},
	"other":         {"OTHER"},
	"turkey":        {"TR"},
	"russia":        {"RU"},
	"uae":           {"AE"},
}

// countryByName maps lower-case English country names (CLDR, golang.org/x/text) to
// their ISO codes.
var countryByName = func() map[string]string {
	m := map[string]string{}
	names := display.English.Regions()
	for _, code := range strings.Fields("AD AE AF AG AI AL AM AO AR AS AT AU AW AZ BA BB BD BE BF BG BH BI BJ BM BN BO BR BS BT BW BY BZ " +
		"CA CD CF CG CH CI CK CL CM CN CO CR CU CV CY CZ DE DJ DK DM DO DZ EC EE EG ER ES ET FI FJ FM FO FR GA GB GD GE GF GH GI GL GM GN " +
		"GP GQ GR GT GU GW GY HK HN HR HT HU ID IE IL IN IQ IR IS IT JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU " +
		"LV LY MA MC MD ME MG MH MK ML MM MN MO MQ MR MS MT MU MV MW MX MY MZ NA NC NE NG NI NL NO NP NR NZ OM PA PE PF PG PH PK PL PR PS " +
		"PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SI SK SL SM SN SO SR SS ST SV SY SZ TC TD TG TH TJ TL TM TN TO TR TT TV TW TZ UA UG " +
		"US UY UZ VC VE VG VI VN VU WS YE ZA ZM ZW") {
		m[strings.ToLower(names.Name(language.MustParseRegion(code)))] = code
	}
	return m
}()

// marketCodes returns the ISO codes a rate card's market names: an ISO code, a country's
// English name, North America (US, CA), Other (OTHER); nil for a regional market.
func marketCodes(name string) []string {
	n := strings.TrimSpace(name)
	if len(n) == 2 && strings.ToUpper(n) == n {
		if _, err := language.ParseRegion(n); err == nil {
			return []string{n}
		}
	}
	if codes, ok := marketAliases[strings.ToLower(n)]; ok {
		return codes
	}
	if code, ok := countryByName[strings.ToLower(n)]; ok {
		return []string{code}
	}
	return nil
}

// ParseRateCard reads a rate card in the layout of Meta's CSV rate cards: a header row
// with Market and Currency columns and one column per category (Marketing, Utility,
// Authentication, Authentication-International, Service; case and spaces ignored; a
// missing category is not priced), then one row per market with decimal prices
// ("0.0618", "Free" or "" for 0 / not priced). Errors name the line and the column.
func ParseRateCard(r io.Reader) (RateCard, error) {
	var rc RateCard
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	header, err := cr.Read()
	if err != nil {
		return rc, fmt.Errorf("line 1: reading the header: %w", err)
	}
	market, currency := -1, -1
	cats := map[int]string{}
	for i, h := range header {
		key := strings.ToLower(strings.ReplaceAll(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")), " ", "-"))
		switch key {
		case "market":
			market = i
		case "currency":
			currency = i
		default:
			if slices.Contains(Categories, key) {
				cats[i] = key
			}
		}
	}
	if market < 0 || currency < 0 || len(cats) == 0 {
		return rc, errors.New("line 1: the header needs Market, Currency and at least one of Marketing, Utility, Authentication, Authentication-International, Service")
	}
	seen := map[string]int{}
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return rc, fmt.Errorf("line %d: %w", line, err)
		}
		if len(rec) <= market || strings.TrimSpace(rec[market]) == "" {
			continue
		}
		codes := marketCodes(rec[market])
		if codes == nil {
			rc.Unmapped = append(rc.Unmapped, strings.TrimSpace(rec[market]))
			continue
		}
		cur := ""
		if currency < len(rec) {
			cur = strings.ToUpper(strings.TrimSpace(rec[currency]))
		}
		if len(cur) != 3 || strings.Trim(cur, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != "" {
			return rc, fmt.Errorf("line %d: Currency %q is not an ISO 4217 code such as USD", line, cur)
		}
		for _, code := range codes {
			if prev, dup := seen[code]; dup {
				return rc, fmt.Errorf("line %d: the market %s is already priced on line %d", line, code, prev)
			}
			seen[code] = line
		}
		for i, cat := range cats {
			if i >= len(rec) {
				continue
			}
			micros, ok, err := parsePrice(rec[i])
			if err != nil {
				return rc, fmt.Errorf("line %d, column %s: %w", line, header[i], err)
			}
			if !ok {
				continue
			}
			for _, code := range codes {
				rc.Rates = append(rc.Rates, Rate{Market: code, Category: cat, Currency: cur, PriceMicros: micros})
			}
		}
	}
	rc.Countries = len(seen)
	sort.Slice(rc.Rates, func(i, j int) bool {
		a, b := rc.Rates[i], rc.Rates[j]
		return a.Market < b.Market || a.Market == b.Market && a.Category < b.Category
	})
	return rc, nil
}

// parsePrice reads a decimal price with at most 6 decimals into micros; "Free" is 0;
// "", "n/a" and "-" are not priced (ok false).
func parsePrice(s string) (micros int64, ok bool, err error) {
	s = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(s), "$"))
	switch strings.ToLower(s) {
	case "", "n/a", "na", "-":
		return 0, false, nil
	case "free":
		return 0, true, nil
	}
	whole, frac, _ := strings.Cut(s, ".")
	if len(frac) > 6 || whole == "" && frac == "" || strings.Trim(whole+frac, "0123456789") != "" || len(whole) > 9 {
		return 0, false, fmt.Errorf("%q is not a price such as 0.0618", s)
	}
	w, _ := strconv.ParseInt("0"+whole, 10, 64)
	f, _ := strconv.ParseInt((frac + "000000")[:6], 10, 64)
	return w*1_000_000 + f, true, nil
}

// StoreRateCard replaces the namespace's rate card.
func StoreRateCard(ctx context.Context, tx pgx.Tx, namespace string, rc RateCard) error {
	if _, err := tx.Exec(ctx, `DELETE FROM rate_cards WHERE namespace = $1`, namespace); err != nil {
		return err
	}
	rows := make([][]any, len(rc.Rates))
	for i, r := range rc.Rates {
		rows[i] = []any{namespace, r.Market, r.Category, r.Currency, r.PriceMicros}
	}
	_, err := tx.CopyFrom(ctx, pgx.Identifier{"rate_cards"}, []string{"namespace", "market", "category", "currency", "price_micros"},
		pgx.CopyFromRows(rows))
	return err
}

// CostRow is the cost of one Number's billable messages to one country in one category:
// messages charged (Meta's pricing type "regular", once per wamid) and their cost in
// micros of Currency; Priced is false when the rate card has no price for them (the cost
// then counts 0).
type CostRow struct {
	Number     string `json:"number"`
	Country    string `json:"country"` // ISO 3166-1 alpha-2 of the recipient; "" when unknown
	Category   string `json:"category"`
	Messages   int64  `json:"messages"`
	Free       int64  `json:"free"` // messages with a pricing object that Meta did not charge
	Currency   string `json:"currency,omitempty"`
	CostMicros int64  `json:"costMicros"`
	Priced     bool   `json:"priced"`
}

// costQuery is every message with a pricing object in the period, once per wamid (its
// first such status): Number, recipient, category, pricing type, billable.
const costQuery = `
		SELECT DISTINCT ON (s.wamid) coalesce(o.number, c.number, ''), coalesce(s.recipient_id, o.recipient, ''),
		       coalesce(s.payload #>> '{pricing,category}', ''),
		       coalesce(s.payload #>> '{pricing,type}', ''), coalesce((s.payload #>> '{pricing,billable}')::boolean, false)
		FROM message_statuses s
		LEFT JOIN outbox o ON o.wamid = s.wamid AND o.namespace = s.namespace
		LEFT JOIN messages m ON m.namespace = s.namespace AND m.wamid = s.wamid
		LEFT JOIN conversations c ON c.id = m.conversation_id
		WHERE s.namespace = $1 AND s.at >= $2 AND s.at < $3 AND s.payload ? 'pricing'
		ORDER BY s.wamid, s.at`

// Cost is the cost report: every message whose status webhooks in the period carried a
// pricing object (Meta sends it with sent and delivered/read), counted once per wamid,
// grouped by Number, the recipient's country (from recipient_id, by libphonenumber) and
// category, and priced with the rate card (the country's rate, else OTHER's). A message is
// charged when its pricing type is "regular" (Meta's per-message pricing since 1 July
// 2025), or, without a type, when billable is true.
func Cost(ctx context.Context, tx pgx.Tx, namespace string, p Period, f Filter) ([]CostRow, error) {
	rates := map[[2]string]Rate{}
	rs, err := tx.Query(ctx, `SELECT market, category, currency, price_micros FROM rate_cards WHERE namespace = $1`, namespace)
	if err != nil {
		return nil, err
	}
	list, err := pgx.CollectRows(rs, pgx.RowToStructByPos[Rate])
	if err != nil {
		return nil, err
	}
	for _, r := range list {
		rates[[2]string{r.Market, r.Category}] = r
	}
	type key struct{ number, country, category string }
	groups := map[key]*CostRow{}
	rs, err = tx.Query(ctx, costQuery, namespace, p.From, p.To)
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	for rs.Next() {
		var number, recipient, category, typ string
		var billable bool
		if err := rs.Scan(&number, &recipient, &category, &typ, &billable); err != nil {
			return nil, err
		}
		if f.Number != "" && number != f.Number {
			continue
		}
		k := key{number, phone.Region(strings.TrimPrefix(recipient, "+")), category}
		g := groups[k]
		if g == nil {
			g = &CostRow{Number: k.number, Country: k.country, Category: k.category}
			groups[k] = g
		}
		if typ != "regular" && (typ != "" || !billable) {
			g.Free++
			continue
		}
		g.Messages++
		r, ok := rates[[2]string{k.country, category}]
		if !ok {
			r, ok = rates[[2]string{"OTHER", category}]
		}
		if ok {
			g.Currency, g.Priced = r.Currency, true
			g.CostMicros += r.PriceMicros
		}
	}
	if err := rs.Err(); err != nil {
		return nil, err
	}
	out := make([]CostRow, 0, len(groups))
	for _, g := range groups {
		if g.Messages == 0 {
			g.Priced = true // nothing to price
		}
		out = append(out, *g)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Number != b.Number {
			return a.Number < b.Number
		}
		if a.Country != b.Country {
			return a.Country < b.Country
		}
		return a.Category < b.Category
	})
	return out, nil
}
