package calendar_test

import (
	"fmt"
	"time"

	sbv1 "github.com/switchboard-dev/switchboard/api/v1alpha1"
	"github.com/switchboard-dev/switchboard/runtime/calendar"
)

func ExampleHours_Closed() {
	hours, err := calendar.Compile(&sbv1.BusinessHours{
		TimeZone: "Europe/Madrid",
		Weekly:   []sbv1.WeeklyWindow{{Days: []sbv1.Weekday{"Mon", "Tue", "Wed", "Thu", "Fri"}, From: "09:00", To: "18:00"}},
		Holidays: []string{"2026-12-25"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	madrid := hours.Location()
	fri := time.Date(2026, 12, 18, 12, 0, 0, 0, madrid)
	fmt.Println("Friday noon open:", hours.Open(fri))
	p, closed := hours.Closed(time.Date(2026, 12, 19, 11, 0, 0, 0, madrid))
	fmt.Println("Saturday closed:", closed, "from", p.Start.In(madrid).Format(time.DateTime), "to", p.End.In(madrid).Format(time.DateTime))
	p, _ = hours.Closed(time.Date(2026, 12, 24, 20, 0, 0, 0, madrid))
	fmt.Println("Christmas Eve evening (Thursday; Friday is a holiday): until", p.End.In(madrid).Format(time.DateTime))
	// Output:
	// Friday noon open: true
	// Saturday closed: true from 2026-12-18 18:00:00 to 2026-12-21 09:00:00
	// Christmas Eve evening (Thursday; Friday is a holiday): until 2026-12-28 09:00:00
}

func ExampleParseSchedule() {
	s, err := calendar.ParseSchedule("0 3 * * *", "Europe/Madrid")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(s.Next(time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)))
	_, err = calendar.ParseSchedule("every night", "UTC")
	fmt.Println(err)
	// Output:
	// 2026-11-22 02:00:00 +0000 UTC
	// spec.schedule: "every night" is not a cron expression: expected exactly 5 fields, found 2: [every night]
}
