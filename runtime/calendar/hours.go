package calendar

import (
	"fmt"
	"slices"
	"time"

	sbv1 "github.com/switchboard-dev/switchboard/api/v1alpha1"
)

// Hours are a RoutingPolicy's compiled business hours: weekly windows in a time zone,
// minus holidays. A nil *Hours is always open (a Number whose policy sets no business
// hours has no after hours). Hours are immutable and safe for concurrent use.
type Hours struct {
	loc      *time.Location
	week     [7][]window // by time.Weekday
	holidays map[date]bool
}

// window is [from, to) in minutes after local midnight; to is 1440 for "23:59".
type window struct{ from, to int }

// date is a calendar date in the Hours' zone.
type date struct {
	y int
	m time.Month
	d int
}

// Period is a closed period: from Start (when the business hours last closed) to End
// (when they next open), [Start, End). Start identifies the period: the inbox sends
// the after-hours reply once per conversation per Start. A zero Start means closed
// since before the search horizon (400 days), a zero End closed beyond it.
type Period struct{ Start, End time.Time }

// horizonDays bounds the search for the edges of a closed period: 366 holidays plus a
// week.
const horizonDays = 400

// dayNames maps the API's weekday names to time.Weekday.
var dayNames = map[sbv1.Weekday]time.Weekday{
	"Sun": time.Sunday, "Mon": time.Monday, "Tue": time.Tuesday, "Wed": time.Wednesday,
	"Thu": time.Thursday, "Fri": time.Friday, "Sat": time.Saturday,
}

// Compile checks and compiles spec.businessHours of a RoutingPolicy. nil gives nil
// (always open). The error is a *FieldError naming the first bad field:
// spec.businessHours.timeZone (unknown, or Local), spec.businessHours.weekly[i].days[j],
// .from, .to (HH:MM from 00:00 to 23:59, from before to), or
// spec.businessHours.holidays[i] (not a real YYYY-MM-DD date).
//
// A window is [from, to) in local wall-clock time on each of its days; "23:59" as to
// means until midnight, so that 00:00–23:59 every day is always open. Windows cannot
// cross midnight (admission refuses from ≥ to). Windows are wall-clock times, so
// 09:00 is 09:00 in summer and in winter. On the day a time change skips an hour, an
// edge in the skipped hour is the instant of the change (02:30 on the last Sunday of
// March in Madrid is 03:00 CEST); on the day an hour repeats, an edge in it is its
// later occurrence (02:30 on the last Sunday of October is 02:30 CET).
func Compile(bh *sbv1.BusinessHours) (*Hours, error) {
	if bh == nil {
		return nil, nil
	}
	loc, err := LoadZone(bh.TimeZone)
	if err != nil {
		return nil, fieldErrorf("spec.businessHours.timeZone", bh.TimeZone, "unknown time zone %q", bh.TimeZone)
	}
	h := &Hours{loc: loc, holidays: map[date]bool{}}
	for i, w := range bh.Weekly {
		if err := h.addWindow(i, w); err != nil {
			return nil, err
		}
	}
	for i, d := range bh.Holidays {
		t, err := time.Parse(time.DateOnly, d)
		if err != nil {
			return nil, fieldErrorf(fmt.Sprintf("spec.businessHours.holidays[%d]", i), d, "%q is not a date", d)
		}
		h.holidays[dateOf(t)] = true
	}
	for wd := range h.week {
		h.week[wd] = sortedMerged(h.week[wd])
	}
	return h, nil
}

// addWindow adds weekly window i to its days.
func (h *Hours) addWindow(i int, w sbv1.WeeklyWindow) error {
	field := fmt.Sprintf("spec.businessHours.weekly[%d]", i)
	from, err := parseClock(field+".from", w.From)
	if err != nil {
		return err
	}
	to, err := parseClock(field+".to", w.To)
	if err != nil {
		return err
	}
	if from >= to {
		return fieldErrorf(field, w.From+"-"+w.To, "from %q must be earlier than to %q", w.From, w.To)
	}
	if to == 23*60+59 {
		to = 24 * 60
	}
	for j, d := range w.Days {
		wd, ok := dayNames[d]
		if !ok {
			return fieldErrorf(fmt.Sprintf("%s.days[%d]", field, j), string(d), "unknown day %q (Mon, Tue, Wed, Thu, Fri, Sat, Sun)", d)
		}
		h.week[wd] = append(h.week[wd], window{from, to})
	}
	return nil
}

// parseClock reads HH:MM (00:00 to 23:59) as minutes after midnight.
func parseClock(field, s string) (int, error) {
	t, err := time.Parse("15:04", s)
	if err != nil || len(s) != 5 {
		return 0, fieldErrorf(field, s, "%q is not HH:MM between 00:00 and 23:59", s)
	}
	return t.Hour()*60 + t.Minute(), nil
}

// Location is the business hours' time zone.
func (h *Hours) Location() *time.Location {
	if h == nil {
		return time.UTC
	}
	return h.loc
}

// Open reports whether at falls inside the business hours. A nil *Hours is always open.
func (h *Hours) Open(at time.Time) bool {
	if h == nil {
		return true
	}
	for _, iv := range h.intervals(dateOf(at.In(h.loc))) {
		if !at.Before(iv.Start) && at.Before(iv.End) {
			return true
		}
	}
	return false
}

// Closed returns the closed period that contains at, and false when the business
// hours are open at that instant (or h is nil).
func (h *Hours) Closed(at time.Time) (Period, bool) {
	if h.Open(at) {
		return Period{}, false
	}
	return Period{Start: h.lastClose(at), End: h.nextOpen(at)}, true
}

// lastClose is the latest end of an open interval at or before at.
func (h *Hours) lastClose(at time.Time) time.Time {
	d := dateOf(at.In(h.loc))
	for range horizonDays {
		ivs := h.intervals(d)
		for i := len(ivs) - 1; i >= 0; i-- {
			if !ivs[i].End.After(at) {
				return ivs[i].End
			}
		}
		d = d.add(-1)
	}
	return time.Time{}
}

// nextOpen is the earliest start of an open interval after at.
func (h *Hours) nextOpen(at time.Time) time.Time {
	d := dateOf(at.In(h.loc))
	for range horizonDays {
		for _, iv := range h.intervals(d) {
			if iv.Start.After(at) {
				return iv.Start
			}
		}
		d = d.add(1)
	}
	return time.Time{}
}

// intervals are the open intervals of local date d, sorted and merged, as instants.
// Empty on holidays. An interval that ends at midnight and one that starts at the next
// midnight touch, so a period never closes at midnight between two such windows.
func (h *Hours) intervals(d date) []Period {
	if h.holidays[d] {
		return nil
	}
	ws := h.week[d.weekday()]
	out := make([]Period, 0, len(ws))
	for _, w := range ws {
		iv := Period{Start: d.at(w.from, h.loc), End: d.at(w.to, h.loc)}
		if iv.Start.Before(iv.End) {
			out = append(out, iv)
		}
	}
	return out
}

// sortedMerged sorts windows by start and merges those that overlap or touch.
func sortedMerged(ws []window) []window {
	slices.SortFunc(ws, func(a, b window) int { return a.from - b.from })
	var out []window
	for _, w := range ws {
		if n := len(out); n > 0 && w.from <= out[n-1].to {
			out[n-1].to = max(out[n-1].to, w.to)
			continue
		}
		out = append(out, w)
	}
	return out
}

func dateOf(t time.Time) date { y, m, d := t.Date(); return date{y, m, d} }

func (d date) add(days int) date { return dateOf(time.Date(d.y, d.m, d.d+days, 12, 0, 0, 0, time.UTC)) }

func (d date) weekday() time.Weekday {
	return time.Date(d.y, d.m, d.d, 12, 0, 0, 0, time.UTC).Weekday()
}

// at is the instant of minute-of-day min on date d in loc; 1440 is the next midnight.
// A wall-clock time that a time change skips is the first instant after the skip (the
// change itself); one that repeats is read as Go's time.Date reads it (in Europe, the
// later occurrence, in standard time).
func (d date) at(min int, loc *time.Location) time.Time {
	t := time.Date(d.y, d.m, d.d, 0, min, 0, 0, loc)
	if t.Hour() != min/60%24 || t.Minute() != min%60 {
		if start, _ := t.ZoneBounds(); !start.IsZero() {
			return start
		}
	}
	return t
}
