package pace_test

import (
	"math"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/runtime/pace"
)

// t0 is the start of every simulated clock.
var t0 = time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)

func at(d time.Duration) time.Time { return t0.Add(d) }

func near(a, b float64) bool { return math.Abs(a-b) < 1e-6 }

func TestBucketTable(t *testing.T) {
	cases := []struct {
		name        string
		rate, burst float64
		takes       int           // takes at t0 that must all succeed
		wantWait    time.Duration // Wait at t0 after the takes
		wantTokens  float64       // Tokens at t0 after the takes
	}{
		{"80/s burst 80", 80, 80, 80, 12500 * time.Microsecond, 0},
		{"1000/s burst 1000", 1000, 1000, 1000, time.Millisecond, 0},
		{"1/3s burst 1", 1.0 / 3, 1, 1, 3 * time.Second, 0},
		{"partial burst left", 10, 5, 3, 0, 2},
		{"burst below 1 holds one token", 5, 0.2, 1, 200 * time.Millisecond, 0},
		{"closed", 0, 10, 0, pace.Forever, 0},
		{"negative rate is closed", -4, 10, 0, pace.Forever, 0},
		{"NaN rate is closed", math.NaN(), 10, 0, pace.Forever, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := pace.NewBucket(tc.rate, tc.burst, t0)
			for i := range tc.takes {
				if !b.Take(t0) {
					t.Fatalf("take %d refused", i)
				}
			}
			if got := b.Wait(t0); got != tc.wantWait {
				t.Errorf("Wait = %v, want %v", got, tc.wantWait)
			}
			if got := b.Tokens(t0); !near(got, tc.wantTokens) {
				t.Errorf("Tokens = %v, want %v", got, tc.wantTokens)
			}
			if tc.wantWait != 0 && b.Take(t0) {
				t.Errorf("Take succeeded with Wait %v", tc.wantWait)
			}
		})
	}
}

// TestBucketWaitIsExact: after Wait, Take succeeds; a nanosecond before, it fails.
func TestBucketWaitIsExact(t *testing.T) {
	for _, rate := range []float64{1.0 / 6, 1.0 / 3, 0.7, 3, 7, 20, 80, 333, 1000} {
		b := pace.NewBucket(rate, 1, t0)
		now := t0
		for i := range 2000 {
			if !b.Take(now) {
				w := b.Wait(now)
				if w <= 0 || w == pace.Forever {
					t.Fatalf("rate %v step %d: Take refused with Wait %v", rate, i, w)
				}
				if w > 1 && b.Take(now.Add(w-1)) {
					t.Fatalf("rate %v step %d: Take succeeded 1ns before Wait %v", rate, i, w)
				}
				now = now.Add(w)
				if !b.Take(now) {
					t.Fatalf("rate %v step %d: Take refused after Wait %v (tokens %v)", rate, i, w, b.Tokens(now))
				}
			}
		}
		// 2000 tokens, one at t0: the last at (2000-1)/rate, within a nanosecond per step.
		want := time.Duration(1999 / rate * 1e9)
		if got := now.Sub(t0); got < want || got > want+2000 {
			t.Errorf("rate %v: 2000 tokens took %v, want %v", rate, got, want)
		}
	}
}

func TestBucketSetRate(t *testing.T) {
	t.Run("refill at old rate then cap", func(t *testing.T) {
		b := pace.NewBucket(10, 10, t0)
		for range 10 {
			b.Take(t0)
		}
		// 0.5 s at 10/s refills 5 tokens, then the new burst caps them to 3.
		b.SetRate(100, 3, at(500*time.Millisecond))
		if got := b.Tokens(at(500 * time.Millisecond)); !near(got, 3) {
			t.Errorf("tokens = %v, want 3", got)
		}
		// Refill continues at the new rate.
		if got := b.Tokens(at(510 * time.Millisecond)); !near(got, 3) {
			t.Errorf("tokens = %v, want 3 (capped)", got)
		}
	})
	t.Run("no reset of what was spent", func(t *testing.T) {
		b := pace.NewBucket(10, 10, t0)
		for range 10 {
			b.Take(t0)
		}
		b.SetRate(10, 10, t0)  // same limits
		b.SetRate(20, 100, t0) // higher limits
		if b.Take(t0) {
			t.Fatal("SetRate refilled the bucket")
		}
		if got := b.Wait(t0); got != 50*time.Millisecond {
			t.Errorf("Wait = %v, want 50ms at the new rate", got)
		}
	})
	t.Run("close and reopen starts empty", func(t *testing.T) {
		b := pace.NewBucket(10, 10, t0)
		b.SetRate(0, 10, at(time.Second))
		if b.Take(at(time.Hour)) || b.Wait(at(time.Hour)) != pace.Forever || b.Tokens(at(time.Hour)) != 0 {
			t.Fatal("closed bucket gave a token")
		}
		if b.Rate() != 0 || b.Burst() != 0 {
			t.Errorf("closed bucket: rate %v burst %v", b.Rate(), b.Burst())
		}
		b.SetRate(10, 10, at(time.Hour))
		if got := b.Wait(at(time.Hour)); got != 100*time.Millisecond {
			t.Errorf("reopened Wait = %v, want 100ms", got)
		}
	})
	t.Run("time going backwards", func(t *testing.T) {
		b := pace.NewBucket(1, 1, at(10*time.Second))
		if !b.Take(at(10 * time.Second)) {
			t.Fatal("take refused")
		}
		if b.Take(at(5 * time.Second)) {
			t.Fatal("an earlier now refilled the bucket")
		}
		// Measured from the earlier now, the token is 5 s + 1 s away.
		if got := b.Wait(at(5 * time.Second)); got != 6*time.Second {
			t.Errorf("Wait = %v, want 6s", got)
		}
		if !b.Take(at(11 * time.Second)) {
			t.Fatal("take refused after refill")
		}
	})
}
