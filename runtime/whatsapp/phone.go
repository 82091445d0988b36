package whatsapp

import (
	"context"
	"fmt"
	"net/url"
	"strings"
)

// Phone-number fields (GET /{version}/{phone-number-id}?fields=…).
const (
	FieldID                     = "id"
	FieldDisplayPhoneNumber     = "display_phone_number"
	FieldVerifiedName           = "verified_name"
	FieldQualityRating          = "quality_rating"
	FieldThroughput             = "throughput"
	FieldMessagingLimit         = "whatsapp_business_manager_messaging_limit"
	FieldMessagingLimitTier     = "messaging_limit_tier" // deprecated by Meta in favour of FieldMessagingLimit
	FieldStatus                 = "status"
	FieldNameStatus             = "name_status"
	FieldCodeVerificationStatus = "code_verification_status"
	FieldPlatformType           = "platform_type"
)

// PhoneNumberFields are the fields GetPhoneNumber asks for by default: what
// the Number controller needs to compute effective limits.
var PhoneNumberFields = []string{
	FieldQualityRating, FieldThroughput, FieldMessagingLimit, FieldStatus,
	FieldNameStatus, FieldVerifiedName, FieldDisplayPhoneNumber,
}

// PhoneNumber is a business phone number's state as Graph reports it. Fields
// not requested are empty.
type PhoneNumber struct {
	ID                     string     `json:"id"`
	DisplayPhoneNumber     string     `json:"display_phone_number,omitempty"`
	VerifiedName           string     `json:"verified_name,omitempty"`
	QualityRating          string     `json:"quality_rating,omitempty"` // GREEN, YELLOW, RED, NA/UNKNOWN
	Throughput             Throughput `json:"throughput,omitzero"`
	MessagingLimit         string     `json:"whatsapp_business_manager_messaging_limit,omitempty"` // TIER_250 …
	MessagingLimitTier     string     `json:"messaging_limit_tier,omitempty"`                      // deprecated
	Status                 string     `json:"status,omitempty"`                                    // CONNECTED, FLAGGED, RESTRICTED, …
	NameStatus             string     `json:"name_status,omitempty"`
	CodeVerificationStatus string     `json:"code_verification_status,omitempty"`
	PlatformType           string     `json:"platform_type,omitempty"`
}

// Throughput is the number's throughput level: STANDARD (80 msg/s) or HIGH (1,000).
type Throughput struct {
	Level string `json:"level,omitempty"`
}

// Limit returns the messaging-limit tier, preferring the current field over
// the deprecated messaging_limit_tier.
func (p PhoneNumber) Limit() string {
	if p.MessagingLimit != "" {
		return p.MessagingLimit
	}
	return p.MessagingLimitTier
}

// GetPhoneNumber reads phoneNumberID's fields (PhoneNumberFields if none given).
func (c *Client) GetPhoneNumber(ctx context.Context, phoneNumberID string, fields ...string) (PhoneNumber, error) {
	if !validID(phoneNumberID) {
		return PhoneNumber{}, fmt.Errorf("%w: phone number ID is required", ErrInvalidMessage)
	}
	if len(fields) == 0 {
		fields = PhoneNumberFields
	}
	q := url.Values{"fields": {strings.Join(fields, ",")}}
	var p PhoneNumber
	err := c.do(ctx, "GET", c.endpoint(q, phoneNumberID), nil, &p)
	return p, err
}
