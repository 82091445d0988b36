// Package calendar answers the time questions of the policies, in their time zones:
// whether a RoutingPolicy's business hours are open at an instant and which closed
// period an instant belongs to (Hours), and when a RetentionPolicy's cron schedule
// next runs (Schedule). It is pure (the caller passes the time) and shared by the
// operator, which reports invalid zones, holidays and schedules with the same Compile
// and ParseSchedule the inbox uses, so the two never disagree.
package calendar

import (
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// FieldError names the spec field and the value that do not compile.
type FieldError struct {
	Field  string // for example spec.businessHours.holidays[0]
	Value  string
	Reason string // for example `"2026-02-30" is not a date`
}

// Error is "FIELD: REASON".
func (e *FieldError) Error() string { return e.FieldError() }

// FieldError is "FIELD: REASON", the message the operator puts in a Stalled condition.
func (e *FieldError) FieldError() string { return e.Field + ": " + e.Reason }

func fieldErrorf(field, value, format string, args ...any) *FieldError {
	return &FieldError{Field: field, Value: value, Reason: fmt.Sprintf(format, args...)}
}

// LoadZone loads an IANA time zone ("Europe/Madrid", "UTC"). "Local" and "" are
// refused: they would mean the zone of whichever machine runs the program. The
// binaries embed the zone database (time/tzdata), so this does not depend on the
// machine either.
func LoadZone(name string) (*time.Location, error) {
	if name == "Local" || name == "" {
		return nil, fmt.Errorf("time zone %q depends on the machine", name)
	}
	return time.LoadLocation(name)
}

// Schedule is a RetentionPolicy's compiled cron schedule in its time zone.
type Schedule struct {
	cron cron.Schedule
	loc  *time.Location
}

// cronParser reads five-field cron expressions (minute hour day-of-month month
// day-of-week) and the descriptors @yearly, @monthly, @weekly, @daily, @hourly.
var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// ParseSchedule compiles a RetentionPolicy's spec.schedule in spec.timeZone ("" is
// UTC). The error is a *FieldError naming spec.timeZone or spec.schedule; a zone
// inside the expression (TZ=, CRON_TZ=) and @every are refused: the zone is
// spec.timeZone's job, and @every has no fixed time of day.
func ParseSchedule(expr, timeZone string) (*Schedule, error) {
	if timeZone == "" {
		timeZone = "UTC"
	}
	loc, err := LoadZone(timeZone)
	if err != nil {
		return nil, fieldErrorf("spec.timeZone", timeZone, "unknown time zone %q", timeZone)
	}
	if strings.Contains(expr, "TZ=") || strings.HasPrefix(expr, "@every") {
		return nil, fieldErrorf("spec.schedule", expr,
			"%q: use five cron fields or @yearly, @monthly, @weekly, @daily, @hourly, and spec.timeZone for the zone", expr)
	}
	s, err := cronParser.Parse(expr)
	if err != nil {
		return nil, fieldErrorf("spec.schedule", expr, "%q is not a cron expression: %v", expr, err)
	}
	return &Schedule{cron: s, loc: loc}, nil
}

// Next is the first run strictly after t, in UTC. Runs are wall-clock times in the
// schedule's zone, computed by github.com/robfig/cron/v3: a run whose time a time
// change skips (02:30 on the last Sunday of March in Madrid) does not happen that day,
// and one whose time repeats (02:30 on the last Sunday of October) happens twice. A
// retention purge is idempotent, so neither matters; pick a time outside 02:00–03:00
// to avoid both.
func (s *Schedule) Next(t time.Time) time.Time {
	return s.cron.Next(t.In(s.loc)).UTC()
}
