package conversation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	jsonpatch "github.com/evanphx/json-patch/v5"
	"github.com/jackc/pgx/v5"
)

// MaxAttributesBytes bounds a contact's attributes (their JSON).
const MaxAttributesBytes = 64 << 10

// ErrNoContact is returned for a contact id not in the namespace.
var ErrNoContact = errors.New("conversation: no such contact")

// ContactView is a contact as the agents' API shows it.
type ContactView struct {
	ID              int64           `json:"id"`
	WAID            string          `json:"waId"`
	ProfileName     string          `json:"profileName,omitempty"`
	Tags            []string        `json:"tags"`
	Attributes      json.RawMessage `json:"attributes"`
	MarketingOptOut bool            `json:"marketingOptOut"`
	CreatedAt       time.Time       `json:"createdAt"`
	UpdatedAt       time.Time       `json:"updatedAt"`
}

// ContactFilter selects contacts: Phone, digits the wa_id starts with (other characters
// ignored); Name, part of the profile name in any case; Tag, one tag they carry.
type ContactFilter struct {
	Phone, Name, Tag string
}

const contactColumns = `id, wa_id, COALESCE(profile_name, ''), tags, attributes, marketing_opt_out, created_at, updated_at`

// Contacts returns up to limit contacts of the namespace matching f, newest first,
// those with an id below afterID when it is not 0.
func Contacts(ctx context.Context, tx pgx.Tx, namespace string, f ContactFilter, afterID int64, limit int) ([]ContactView, error) {
	var q query
	q.and("namespace = %s", namespace)
	if d := digits(f.Phone); d != "" {
		q.and("wa_id LIKE %s", d+"%")
	}
	if f.Name != "" {
		q.and("profile_name ILIKE %s", "%"+likeEscape(f.Name)+"%")
	}
	if f.Tag != "" {
		q.and("tags @> ARRAY[%s]::text[]", f.Tag)
	}
	if afterID > 0 {
		q.and("id < %s", afterID)
	}
	rows, _ := tx.Query(ctx, `SELECT `+contactColumns+` FROM contacts WHERE `+q.clause()+
		` ORDER BY id DESC LIMIT `+q.arg(limit), q.args...)
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[ContactView])
	if err != nil {
		return nil, fmt.Errorf("conversation: contacts: %w", err)
	}
	return out, nil
}

func digits(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, s)
}

func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// Contact returns one contact of the namespace, or ErrNoContact.
func Contact(ctx context.Context, tx pgx.Tx, namespace string, id int64, forUpdate bool) (ContactView, error) {
	lock := ""
	if forUpdate {
		lock = " FOR UPDATE"
	}
	rows, _ := tx.Query(ctx, `SELECT `+contactColumns+` FROM contacts WHERE namespace = $1 AND id = $2`+lock, namespace, id)
	c, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByPos[ContactView])
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return ContactView{}, ErrNoContact
	case err != nil:
		return ContactView{}, fmt.Errorf("conversation: contact: %w", err)
	}
	return c, nil
}

// ChangeContactTags applies a tag change to a contact and audits it ("contact.tags").
func ChangeContactTags(ctx context.Context, tx pgx.Tx, vw Viewer, id int64, ch TagChange) (ContactView, error) {
	c, err := Contact(ctx, tx, vw.Namespace, id, true)
	if err != nil {
		return ContactView{}, err
	}
	tags, err := ch.Apply(c.Tags)
	if err != nil {
		return ContactView{}, err
	}
	if err := tx.QueryRow(ctx, `UPDATE contacts SET tags = $3, updated_at = now() WHERE namespace = $1 AND id = $2
		RETURNING updated_at`, vw.Namespace, id, tags).Scan(&c.UpdatedAt); err != nil {
		return ContactView{}, fmt.Errorf("conversation: contact tags: %w", err)
	}
	before := c.Tags
	c.Tags = tags
	return c, Audit(ctx, tx, vw.Namespace, vw.Actor, "contact.tags", "contact", strconv.FormatInt(id, 10),
		map[string][]string{"tags": before}, map[string][]string{"tags": tags})
}

// PatchContactAttributes applies a JSON merge patch (RFC 7396: members replace, null
// removes, objects merge) to a contact's attributes and audits it ("contact.attributes",
// before and after). The patch must be an object and the result at most
// MaxAttributesBytes; errors name the field "attributes".
func PatchContactAttributes(ctx context.Context, tx pgx.Tx, vw Viewer, id int64, patch json.RawMessage) (ContactView, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(patch, &obj); err != nil || obj == nil {
		return ContactView{}, invalid("attributes", "the body must be a JSON object (a merge patch)")
	}
	c, err := Contact(ctx, tx, vw.Namespace, id, true)
	if err != nil {
		return ContactView{}, err
	}
	merged, err := jsonpatch.MergePatch(c.Attributes, patch)
	if err != nil {
		return ContactView{}, invalid("attributes", "the merge patch does not apply: %v", err)
	}
	if len(merged) > MaxAttributesBytes {
		return ContactView{}, invalid("attributes", "at most %d bytes of JSON, the result has %d", MaxAttributesBytes, len(merged))
	}
	if err := tx.QueryRow(ctx, `UPDATE contacts SET attributes = $3::jsonb, updated_at = now() WHERE namespace = $1 AND id = $2
		RETURNING attributes, updated_at`, vw.Namespace, id, string(merged)).Scan(&merged, &c.UpdatedAt); err != nil {
		return ContactView{}, fmt.Errorf("conversation: contact attributes: %w", err)
	}
	before := c.Attributes
	c.Attributes = merged
	return c, Audit(ctx, tx, vw.Namespace, vw.Actor, "contact.attributes", "contact", strconv.FormatInt(id, 10),
		before, merged)
}
