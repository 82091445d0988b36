package simulator

import (
	"encoding/base64"
	"fmt"
	"hash/fnv"
	"strings"
)

// source derives every "random" choice from the seed and a (purpose, n)
// pair, so results do not depend on goroutine scheduling.
type source struct{ seed uint64 }

func (s source) u64(purpose string, n uint64) uint64 {
	h := fnv.New64a()
	h.Write([]byte(purpose))
	return splitmix64(s.seed ^ h.Sum64() ^ splitmix64(n))
}

// float returns a number in [0, 1).
func (s source) float(purpose string, n uint64) float64 {
	return float64(s.u64(purpose, n)>>11) / (1 << 53)
}

func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// wamid builds a message ID shaped like Meta's: "wamid." + base64 of a
// small protobuf-like record holding the user's number and a hex ID.
func (s source) wamid(waID, purpose string, n uint64) string {
	id := fmt.Sprintf("%016X%04X", s.u64(purpose, n), n&0xffff)
	rec := []byte{0x1c, 0x18, byte(len(waID))}
	rec = append(rec, waID...)
	rec = append(rec, 0x15, 0x02, 0x00, 0x11, 0x18, byte(len(id)))
	rec = append(rec, id...)
	rec = append(rec, 0x00)
	return "wamid." + base64.StdEncoding.EncodeToString(rec)
}

// traceID is an fbtrace_id-like token.
func (s source) traceID(n uint64) string {
	b := make([]byte, 0, 24)
	for i := uint64(0); i < 3; i++ {
		v := s.u64("fbtrace", n*3+i)
		for j := 0; j < 8; j++ {
			b = append(b, byte(v>>(8*j)))
		}
	}
	return base64.RawURLEncoding.EncodeToString(b)[:23]
}

// digits returns count decimal digits, the first non-zero.
func (s source) digits(purpose string, n uint64, count int) string {
	var b strings.Builder
	for i := 0; i < count; i++ {
		d := s.u64(purpose, n*64+uint64(i)) % 10
		if i == 0 && d == 0 {
			d = 1
		}
		b.WriteByte(byte('0' + d))
	}
	return b.String()
}
