package conversation

import (
	"context"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
)

// OptOutKeywords are the messages that opt a customer out of marketing (campaigns): the
// whole message, trimmed, in any case — "stop" opts out, "please don't stop" does not.
// "Stop promotions" is the quick-reply button Meta suggests for marketing templates
// (Meta, "Marketing message opt-out").
var OptOutKeywords = []string{"STOP", "STOP PROMOTIONS", "UNSUBSCRIBE", "BAJA", "PARAR"}

// IsOptOut reports whether text is one of OptOutKeywords.
func IsOptOut(text string) bool {
	return slices.Contains(OptOutKeywords, strings.ToUpper(strings.Join(strings.Fields(text), " ")))
}

// OptOutByKeyword marks the customer waID opted out of marketing when text is an opt-out
// keyword (contacts.marketing_opt_out, reason "keyword:<TEXT>"), and reports whether it
// was one. Campaigns skip such contacts (docs/campaigns.md).
func OptOutByKeyword(ctx context.Context, tx pgx.Tx, namespace, waID, text string) (bool, error) {
	if !IsOptOut(text) {
		return false, nil
	}
	return true, optOut(ctx, tx, namespace, waID, "keyword:"+strings.ToUpper(strings.Join(strings.Fields(text), " ")))
}
