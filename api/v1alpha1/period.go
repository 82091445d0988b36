package v1alpha1

import (
	"fmt"
	"strconv"
	"time"
)

// Bounds of a retention Period.
const (
	MinPeriod = 24 * time.Hour
	MaxPeriod = 10 * 365 * 24 * time.Hour
)

// ParsePeriod reads a Period such as 90d, 730d, 36h or 5y (a year is 365 days) and
// checks it lies between MinPeriod and MaxPeriod. It agrees with the admission rule on
// the Period type.
func ParsePeriod(p Period) (time.Duration, error) {
	s := string(p)
	if len(s) < 2 || len(s) > 7 {
		return 0, fmt.Errorf("period %q: want a number and a unit (h, d or y), like 90d", s)
	}
	n, err := strconv.Atoi(s[:len(s)-1])
	if err != nil || n < 0 || s[0] == '+' || s[0] == '-' {
		return 0, fmt.Errorf("period %q: %q is not a whole number", s, s[:len(s)-1])
	}
	var unit time.Duration
	switch s[len(s)-1] {
	case 'h':
		unit = time.Hour
	case 'd':
		unit = 24 * time.Hour
	case 'y':
		unit = 365 * 24 * time.Hour
	default:
		return 0, fmt.Errorf("period %q: unit must be h, d or y", s)
	}
	d := time.Duration(n) * unit
	if d < MinPeriod || d > MaxPeriod {
		return 0, fmt.Errorf("period %q: must be from 1 day to 10 years", s)
	}
	return d, nil
}
