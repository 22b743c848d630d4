package certification

import "math/bits"

// Bitmap records which members signed: bit i-1 is member i. It is
// accountability data; the threshold signature does not authenticate it
// (spec: CERT-10).
type Bitmap struct {
	n     int
	words []byte
}

// NewBitmap returns an empty bitmap for n members.
func NewBitmap(n int) Bitmap { return Bitmap{n: n, words: make([]byte, (n+7)/8)} }

// Len is the number of members the bitmap covers.
func (b Bitmap) Len() int { return b.n }

// Set marks member m (1-based); out-of-range members are ignored.
func (b Bitmap) Set(m Member) {
	if m >= 1 && int(m) <= b.n {
		b.words[(m-1)/8] |= 1 << ((m - 1) % 8)
	}
}

// Has reports whether member m is marked.
func (b Bitmap) Has(m Member) bool {
	return m >= 1 && int(m) <= b.n && b.words[(m-1)/8]&(1<<((m-1)%8)) != 0
}

// Count is the number of marked members.
func (b Bitmap) Count() int {
	c := 0
	for _, w := range b.words {
		c += bits.OnesCount8(w)
	}
	return c
}

// Members lists the marked members in increasing order.
func (b Bitmap) Members() []Member {
	var out []Member
	for i := 1; i <= b.n; i++ {
		if b.Has(Member(i)) {
			out = append(out, Member(i))
		}
	}
	return out
}

// Equal compares two bitmaps.
func (b Bitmap) Equal(o Bitmap) bool {
	if b.n != o.n || len(b.words) != len(o.words) {
		return false
	}
	for i := range b.words {
		if b.words[i] != o.words[i] {
			return false
		}
	}
	return true
}
