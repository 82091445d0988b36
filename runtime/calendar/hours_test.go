package calendar_test

import (
	"errors"
	"testing"
	"time"

	sbv1 "github.com/switchboard-dev/switchboard/api/v1alpha1"
	"github.com/switchboard-dev/switchboard/runtime/calendar"
)

var madrid = mustZone("Europe/Madrid")

func mustZone(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return loc
}

func utc(y int, m time.Month, d, h, min int) time.Time {
	return time.Date(y, m, d, h, min, 0, 0, time.UTC)
}

func window(from, to string, days ...sbv1.Weekday) sbv1.WeeklyWindow {
	return sbv1.WeeklyWindow{Days: days, From: from, To: to}
}

var everyDay = []sbv1.Weekday{"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"}

func compile(t *testing.T, tz string, holidays []string, ws ...sbv1.WeeklyWindow) *calendar.Hours {
	t.Helper()
	h, err := calendar.Compile(&sbv1.BusinessHours{TimeZone: tz, Weekly: ws, Holidays: holidays})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// TestOpenAcrossTimeChanges: 09:00–18:00 and a window in the hour that the time change
// skips or repeats, in Europe/Madrid around the changes of 2026 (29 March: 02:00 CET →
// 03:00 CEST; 25 October: 03:00 CEST → 02:00 CET).
func TestOpenAcrossTimeChanges(t *testing.T) {
	h := compile(t, "Europe/Madrid", nil, window("09:00", "18:00", everyDay...), window("02:15", "02:45", "Sun"))
	for _, tc := range []struct {
		at   time.Time
		open bool
	}{
		{utc(2026, 3, 28, 7, 59), false}, // Saturday 08:59 CET
		{utc(2026, 3, 28, 8, 0), true},   // 09:00 CET
		{utc(2026, 3, 28, 16, 59), true}, // 17:59 CET
		{utc(2026, 3, 28, 17, 0), false}, // 18:00 CET
		{utc(2026, 3, 29, 6, 59), false}, // Sunday 08:59 CEST
		{utc(2026, 3, 29, 7, 0), true},   // 09:00 CEST: an hour earlier in UTC than the day before
		{utc(2026, 3, 29, 15, 59), true}, // 17:59 CEST
		{utc(2026, 3, 29, 16, 0), false}, // 18:00 CEST
		{utc(2026, 3, 29, 0, 59), false}, // 01:59 CET: the 02:15–02:45 window never happens
		{utc(2026, 3, 29, 1, 0), false},  // 03:00 CEST
		{utc(2026, 10, 24, 7, 0), true},  // Saturday 09:00 CEST
		{utc(2026, 10, 24, 6, 59), false},
		{utc(2026, 10, 25, 7, 59), false}, // Sunday 08:59 CET
		{utc(2026, 10, 25, 8, 0), true},   // 09:00 CET: an hour later in UTC than the day before
		{utc(2026, 10, 25, 16, 59), true},
		{utc(2026, 10, 25, 17, 0), false},
		{utc(2026, 10, 25, 0, 20), false}, // 02:20 CEST, first pass of the repeated hour
		{utc(2026, 10, 25, 1, 20), true},  // 02:20 CET, second pass: the window is read there
		{utc(2026, 10, 25, 1, 45), false}, // 02:45 CET
	} {
		if got := h.Open(tc.at); got != tc.open {
			t.Errorf("Open(%s = %s) = %v, want %v", tc.at.Format(time.DateTime), tc.at.In(madrid).Format("15:04 MST"), got, tc.open)
		}
	}
}

// TestSkippedEdge: a window ending in the skipped hour ends at the change.
func TestSkippedEdge(t *testing.T) {
	h := compile(t, "Europe/Madrid", nil, window("01:00", "02:30", "Sun"))
	p, closed := h.Closed(utc(2026, 3, 29, 1, 15)) // 03:15 CEST
	if !closed || !p.Start.Equal(utc(2026, 3, 29, 1, 0)) {
		t.Errorf("closed %v from %s, want from 03:00 CEST (01:00 UTC)", closed, p.Start)
	}
	if !h.Open(utc(2026, 3, 29, 0, 59)) { // 01:59 CET
		t.Error("01:59 CET must be open")
	}
}

func TestClosedPeriods(t *testing.T) {
	h := compile(t, "Europe/Madrid", []string{"2026-10-26"},
		window("09:00", "13:00", "Mon", "Tue", "Wed", "Thu", "Fri"),
		window("12:00", "14:00", "Mon", "Tue", "Wed", "Thu", "Fri"), // overlaps: merged into 09:00–14:00
		window("16:00", "19:00", "Mon", "Tue", "Wed", "Thu", "Fri"))
	for _, tc := range []struct {
		at         time.Time
		start, end time.Time
	}{
		// Lunch, Thursday 22 October: 14:00 to 16:00 CEST.
		{utc(2026, 10, 22, 12, 30), utc(2026, 10, 22, 12, 0), utc(2026, 10, 22, 14, 0)},
		{utc(2026, 10, 22, 13, 59), utc(2026, 10, 22, 12, 0), utc(2026, 10, 22, 14, 0)},
		// The weekend of the change, then the Monday holiday: Friday 19:00 CEST to
		// Tuesday 09:00 CET.
		{utc(2026, 10, 23, 17, 0), utc(2026, 10, 23, 17, 0), utc(2026, 10, 27, 8, 0)},
		{utc(2026, 10, 25, 1, 30), utc(2026, 10, 23, 17, 0), utc(2026, 10, 27, 8, 0)},
		{utc(2026, 10, 27, 7, 59), utc(2026, 10, 23, 17, 0), utc(2026, 10, 27, 8, 0)},
		// Tuesday evening: a new period.
		{utc(2026, 10, 27, 18, 0), utc(2026, 10, 27, 18, 0), utc(2026, 10, 28, 8, 0)},
	} {
		p, closed := h.Closed(tc.at)
		if !closed || !p.Start.Equal(tc.start) || !p.End.Equal(tc.end) {
			t.Errorf("Closed(%s) = %v [%s, %s), want [%s, %s)", tc.at, closed, p.Start, p.End, tc.start, tc.end)
		}
	}
	if _, closed := h.Closed(utc(2026, 10, 22, 11, 0)); closed {
		t.Error("13:00 CEST is inside the merged morning window")
	}
}

// TestAllDay: 00:00–23:59 every day is always open; "23:59" means until midnight.
func TestAllDay(t *testing.T) {
	h := compile(t, "America/Sao_Paulo", nil, window("00:00", "23:59", everyDay...))
	for at := utc(2026, 11, 1, 0, 0); at.Before(utc(2026, 11, 9, 0, 0)); at = at.Add(7 * time.Minute) {
		if !h.Open(at) {
			t.Fatalf("closed at %s", at)
		}
	}
	night := compile(t, "UTC", nil, window("22:00", "23:59", "Mon"), window("00:00", "06:00", "Tue"))
	for _, at := range []time.Time{utc(2026, 11, 2, 22, 0), utc(2026, 11, 2, 23, 59), utc(2026, 11, 3, 0, 0), utc(2026, 11, 3, 5, 59)} {
		if !night.Open(at) {
			t.Errorf("night shift closed at %s", at)
		}
	}
	if p, closed := night.Closed(utc(2026, 11, 3, 6, 0)); !closed || !p.Start.Equal(utc(2026, 11, 3, 6, 0)) || !p.End.Equal(utc(2026, 11, 9, 22, 0)) {
		t.Errorf("after the night shift: %v %+v", closed, p)
	}
	weekdays := compile(t, "UTC", nil, window("00:00", "23:59", "Mon", "Tue"))
	if p, closed := weekdays.Closed(utc(2026, 11, 4, 12, 0)); !closed || !p.Start.Equal(utc(2026, 11, 4, 0, 0)) || !p.End.Equal(utc(2026, 11, 9, 0, 0)) {
		t.Errorf("Wednesday: %v %+v, want closed from Wednesday 00:00 to Monday 00:00", closed, p)
	}
}

// TestNoHours: a nil *Hours (no businessHours) is always open; a policy with every day
// a holiday is closed with no edge within the horizon.
func TestNoHours(t *testing.T) {
	var none *calendar.Hours
	if !none.Open(time.Now()) {
		t.Error("nil Hours must be open")
	}
	if _, closed := none.Closed(time.Now()); closed {
		t.Error("nil Hours must never be closed")
	}
	h, err := calendar.Compile(nil)
	if h != nil || err != nil {
		t.Errorf("Compile(nil) = %v, %v", h, err)
	}
	never := compile(t, "UTC", []string{"2026-11-30"}, window("09:00", "10:00", "Mon"))
	if p, closed := never.Closed(utc(2026, 11, 30, 9, 30)); !closed || p.End.IsZero() || !p.End.Equal(utc(2026, 12, 7, 9, 0)) {
		t.Errorf("holiday Monday: %v %+v", closed, p)
	}
}

func TestCompileErrors(t *testing.T) {
	ok := window("09:00", "18:00", "Mon")
	for _, tc := range []struct {
		bh    sbv1.BusinessHours
		field string
		msg   string
	}{
		{sbv1.BusinessHours{TimeZone: "Mars/Olympus_Mons", Weekly: []sbv1.WeeklyWindow{ok}},
			"spec.businessHours.timeZone", `spec.businessHours.timeZone: unknown time zone "Mars/Olympus_Mons"`},
		{sbv1.BusinessHours{TimeZone: "Local", Weekly: []sbv1.WeeklyWindow{ok}},
			"spec.businessHours.timeZone", `spec.businessHours.timeZone: unknown time zone "Local"`},
		{sbv1.BusinessHours{TimeZone: "UTC", Weekly: []sbv1.WeeklyWindow{ok}, Holidays: []string{"2026-12-25", "2026-02-30"}},
			"spec.businessHours.holidays[1]", `spec.businessHours.holidays[1]: "2026-02-30" is not a date`},
		{sbv1.BusinessHours{TimeZone: "UTC", Weekly: []sbv1.WeeklyWindow{ok, window("9:00", "18:00", "Mon")}},
			"spec.businessHours.weekly[1].from", `spec.businessHours.weekly[1].from: "9:00" is not HH:MM between 00:00 and 23:59`},
		{sbv1.BusinessHours{TimeZone: "UTC", Weekly: []sbv1.WeeklyWindow{window("09:00", "24:00", "Mon")}},
			"spec.businessHours.weekly[0].to", `spec.businessHours.weekly[0].to: "24:00" is not HH:MM between 00:00 and 23:59`},
		{sbv1.BusinessHours{TimeZone: "UTC", Weekly: []sbv1.WeeklyWindow{window("18:00", "09:00", "Mon")}},
			"spec.businessHours.weekly[0]", `spec.businessHours.weekly[0]: from "18:00" must be earlier than to "09:00"`},
		{sbv1.BusinessHours{TimeZone: "UTC", Weekly: []sbv1.WeeklyWindow{window("09:00", "18:00", "Mon", "Funday")}},
			"spec.businessHours.weekly[0].days[1]", `spec.businessHours.weekly[0].days[1]: unknown day "Funday" (Mon, Tue, Wed, Thu, Fri, Sat, Sun)`},
	} {
		_, err := calendar.Compile(&tc.bh)
		var fe *calendar.FieldError
		if !errors.As(err, &fe) || fe.Field != tc.field || err.Error() != tc.msg {
			t.Errorf("got %v, want %s", err, tc.msg)
		}
	}
}

// TestSchedule: five-field cron in the policy's zone, across the time changes.
func TestSchedule(t *testing.T) {
	for _, tc := range []struct {
		expr, tz string
		after    time.Time
		want     time.Time
	}{
		{"0 3 * * *", "", utc(2026, 11, 21, 10, 0), utc(2026, 11, 22, 3, 0)},
		{"0 3 * * *", "Europe/Madrid", utc(2026, 11, 21, 10, 0), utc(2026, 11, 22, 2, 0)},
		{"@hourly", "UTC", utc(2026, 11, 21, 10, 0), utc(2026, 11, 21, 11, 0)},
		// 04:00 local before and after the spring change: 03:00 UTC, then 02:00 UTC.
		{"0 4 * * *", "Europe/Madrid", utc(2026, 3, 28, 12, 0), utc(2026, 3, 29, 2, 0)},
		{"0 4 * * *", "Europe/Madrid", utc(2026, 3, 27, 12, 0), utc(2026, 3, 28, 3, 0)},
		// 02:30 does not exist on 29 March: the next run is on the 30th.
		{"30 2 * * *", "Europe/Madrid", utc(2026, 3, 28, 12, 0), utc(2026, 3, 30, 0, 30)},
		// 02:30 happens twice on 25 October: at 00:30 and at 01:30 UTC.
		{"30 2 * * *", "Europe/Madrid", utc(2026, 10, 24, 12, 0), utc(2026, 10, 25, 0, 30)},
		{"30 2 * * *", "Europe/Madrid", utc(2026, 10, 25, 0, 30), utc(2026, 10, 25, 1, 30)},
	} {
		s, err := calendar.ParseSchedule(tc.expr, tc.tz)
		if err != nil {
			t.Fatal(err)
		}
		if got := s.Next(tc.after); !got.Equal(tc.want) || got.Location() != time.UTC {
			t.Errorf("%q in %q after %s: %s, want %s", tc.expr, tc.tz, tc.after, got, tc.want)
		}
	}
	for _, tc := range []struct{ expr, tz, field string }{
		{"0 3 * *", "UTC", "spec.schedule"},
		{"0 3 * * *", "Nowhere/City", "spec.timeZone"},
		{"0 3 * * *", "Local", "spec.timeZone"},
		{"TZ=UTC 0 3 * * *", "UTC", "spec.schedule"},
		{"CRON_TZ=Asia/Tokyo 0 3 * * *", "UTC", "spec.schedule"},
		{"@every 1s", "UTC", "spec.schedule"},
	} {
		_, err := calendar.ParseSchedule(tc.expr, tc.tz)
		var fe *calendar.FieldError
		if !errors.As(err, &fe) || fe.Field != tc.field {
			t.Errorf("%q in %q: %v, want an error naming %s", tc.expr, tc.tz, err, tc.field)
		}
	}
}
