// Package latency holds the benchmarks' latency arithmetic: percentiles of measured
// durations and milliseconds for reporting.
package latency

import (
	"slices"
	"time"
)

// Pct returns the p-quantile (0 to 1) of d, nearest rank from below; d is not modified.
// d must not be empty.
func Pct(d []time.Duration, p float64) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[min(len(s)-1, int(p*float64(len(s))))]
}

// Ms is d in milliseconds.
func Ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
