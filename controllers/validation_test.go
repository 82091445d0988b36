package controllers

import (
	"errors"
	"strings"
	"testing"
	"time"

	sbv1 "github.com/switchboard-dev/switchboard/api/v1alpha1"
)

func TestValidateKeywordRule(t *testing.T) {
	rule := func(mode sbv1.MatchMode, any ...string) *sbv1.KeywordRule {
		return &sbv1.KeywordRule{Spec: sbv1.KeywordRuleSpec{Direction: sbv1.Inbound, Match: sbv1.KeywordMatch{Mode: mode, Any: any}}}
	}
	if err := validateKeywordRule(rule(sbv1.MatchRegex, `refund(s|ed)?`, `charge ?back`)); err != nil {
		t.Errorf("valid regexes: %v", err)
	}
	if err := validateKeywordRule(rule(sbv1.MatchWord, "(unbalanced")); err != nil {
		t.Errorf("Word mode must not compile keywords as regexes: %v", err)
	}
	for _, tc := range []struct {
		rule  *sbv1.KeywordRule
		field string
	}{
		{rule(sbv1.MatchRegex, "ok", "[z-a]", "a("), "spec.match.any[1]: regular expression \"[z-a]\" does not compile"},
		{rule(sbv1.MatchContains, "ok", "\u0301"), "spec.match.any[1]: keyword"},
	} {
		err := validateKeywordRule(tc.rule)
		var st *stalledError
		if !errors.As(err, &st) || st.reason != sbv1.ReasonInvalidSpec || !strings.HasPrefix(st.msg, tc.field) {
			t.Errorf("want Stalled starting with %s, got %v", tc.field, err)
		}
	}
}

func TestNextRetentionRun(t *testing.T) {
	now := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	spec := func(schedule, tz string) sbv1.RetentionPolicySpec {
		return sbv1.RetentionPolicySpec{Messages: "730d", Schedule: schedule, TimeZone: tz}
	}
	for _, tc := range []struct {
		spec    sbv1.RetentionPolicySpec
		want    time.Time
		errWith string
	}{
		{spec("0 3 * * *", ""), time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC), ""},
		{spec("0 3 * * *", "Europe/Madrid"), time.Date(2026, 11, 22, 2, 0, 0, 0, time.UTC), ""},
		{spec("@hourly", "UTC"), time.Date(2026, 11, 21, 11, 0, 0, 0, time.UTC), ""},
		{spec("0 3 * *", "UTC"), time.Time{}, "spec.schedule"},
		{spec("0 3 * * *", "Nowhere/City"), time.Time{}, "spec.timeZone"},
		{sbv1.RetentionPolicySpec{Messages: "730d", Media: "1h", Schedule: "@daily"}, time.Time{}, "spec.media"},
		{spec("TZ=UTC", "UTC"), time.Time{}, "spec.schedule"},
		{spec("CRON_TZ=Asia/Tokyo 0 3 * * *", "UTC"), time.Time{}, "spec.schedule"},
		{spec("@every 1s", "UTC"), time.Time{}, "spec.schedule"},
		{spec("0 3 * * *", "Local"), time.Time{}, "spec.timeZone"},
	} {
		got, err := nextRetentionRun(tc.spec, now)
		if tc.errWith != "" {
			if err == nil || !strings.Contains(err.Error(), tc.errWith) {
				t.Errorf("%+v: want an error naming %s, got %v", tc.spec, tc.errWith, err)
			}
			continue
		}
		if err != nil || !got.Equal(tc.want) {
			t.Errorf("%+v: next %s (%v), want %s", tc.spec, got, err, tc.want)
		}
	}
}

func TestValidateBusinessHours(t *testing.T) {
	bh := &sbv1.BusinessHours{TimeZone: "America/Sao_Paulo", Holidays: []string{"2026-12-25"}}
	if err := validateBusinessHours(bh); err != nil {
		t.Errorf("valid: %v", err)
	}
	bh.Holidays = append(bh.Holidays, "2026-13-01")
	if err := validateBusinessHours(bh); err == nil || !strings.Contains(err.Error(), "spec.businessHours.holidays[1]") {
		t.Errorf("want an error naming holidays[1], got %v", err)
	}
	if err := validateBusinessHours(nil); err != nil {
		t.Errorf("no business hours: %v", err)
	}
}
