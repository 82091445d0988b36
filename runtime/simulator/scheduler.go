package simulator

import (
	"container/heap"
	"sync"
	"time"
)

// maxRunPerCall bounds how many events one runDue call executes.
const maxRunPerCall = 1_000_000

// scheduler runs functions at clock times. One goroutine (loop) waits for
// the next due time; runDue may also be called directly (tests).
type scheduler struct {
	clock Clock
	wake  chan struct{}
	runMu sync.Mutex // one runner at a time, so runDue returning means "done"

	mu    sync.Mutex
	items eventHeap
	seq   uint64
}

type scheduled struct {
	at  time.Time
	seq uint64
	fn  func()
}

func newScheduler(c Clock) *scheduler {
	return &scheduler{clock: c, wake: make(chan struct{}, 1)}
}

// at schedules fn to run at t (immediately if t has passed).
func (s *scheduler) at(t time.Time, fn func()) {
	s.mu.Lock()
	s.seq++
	heap.Push(&s.items, scheduled{at: t, seq: s.seq, fn: fn})
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// runDue runs all events due now, in time then insertion order.
func (s *scheduler) runDue() {
	s.runMu.Lock()
	defer s.runMu.Unlock()
	for i := 0; i < maxRunPerCall; i++ {
		fn, ok := s.popDue(s.clock.Now())
		if !ok {
			return
		}
		fn()
	}
}

func (s *scheduler) popDue(now time.Time) (func(), bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.items) == 0 || s.items[0].at.After(now) {
		return nil, false
	}
	return heap.Pop(&s.items).(scheduled).fn, true
}

func (s *scheduler) next() (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.items) == 0 {
		return time.Time{}, false
	}
	return s.items[0].at, true
}

// loop runs due events until done is closed.
func (s *scheduler) loop(done <-chan struct{}) {
	for {
		s.runDue()
		var due <-chan struct{}
		stop := func() {}
		if t, ok := s.next(); ok {
			due, stop = s.clock.Until(t)
		}
		select {
		case <-done:
			stop()
			return
		case <-s.wake:
		case <-due:
		}
		stop()
	}
}

type eventHeap []scheduled

func (h eventHeap) Len() int { return len(h) }
func (h eventHeap) Less(i, j int) bool {
	if !h[i].at.Equal(h[j].at) {
		return h[i].at.Before(h[j].at)
	}
	return h[i].seq < h[j].seq
}
func (h eventHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *eventHeap) Push(x any)   { *h = append(*h, x.(scheduled)) }
func (h *eventHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
