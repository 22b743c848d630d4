package certification

import (
	"encoding/binary"
	"sort"
	"strings"
)

// State is the pair of variables <<votes, certificates>>. It is an
// immutable value: == compares states (so a State can be a map key), the
// zero State is Init, and no function modifies a State it is given.
//
// Each set is a string of fixed-width records kept sorted and free of
// duplicates, so equal sets have equal strings. A record is the tuple's
// integers, 8 bytes each, big-endian with the sign bit flipped, so that byte
// order is numeric order. The representation does not depend on a Config:
// a state with out-of-type tuples can be built (and TypeOK rejects it).
type State struct {
	votes string // records of (member, slot, value)
	certs string // records of (slot, value)
}

const (
	intBytes  = 8
	voteBytes = 3 * intBytes
	certBytes = 2 * intBytes
)

func putInt(b []byte, x int) { binary.BigEndian.PutUint64(b, uint64(int64(x))^(1<<63)) }
func getInt(b string) int {
	var u uint64
	for i := 0; i < intBytes; i++ {
		u = u<<8 | uint64(b[i])
	}
	return int(int64(u ^ (1 << 63)))
}

func voteRecord(v Vote) string {
	var b [voteBytes]byte
	putInt(b[0:], v.Member)
	putInt(b[intBytes:], v.Slot)
	putInt(b[2*intBytes:], v.Value)
	return string(b[:])
}

func certRecord(c Cert) string {
	var b [certBytes]byte
	putInt(b[0:], c.Slot)
	putInt(b[intBytes:], c.Value)
	return string(b[:])
}

// search returns the first record position in set whose record is >= key
// (key may be a prefix of a record) and whether that record starts with key.
func search(set string, width int, key string) (int, bool) {
	n := len(set) / width
	i := sort.Search(n, func(i int) bool { return set[i*width:(i+1)*width] >= key })
	return i, i < n && strings.HasPrefix(set[i*width:(i+1)*width], key)
}

func insert(set string, width int, rec string) string {
	i, found := search(set, width, rec)
	if found {
		return set
	}
	return set[:i*width] + rec + set[i*width:]
}

func (s State) hasVote(v Vote) bool {
	_, ok := search(s.votes, voteBytes, voteRecord(v))
	return ok
}

// votedIn reports whether m has a vote for any value in slot.
func (s State) votedIn(m, slot int) bool {
	_, ok := search(s.votes, voteBytes, voteRecord(Vote{m, slot, 0})[:2*intBytes])
	return ok
}

func (s State) hasCert(c Cert) bool {
	_, ok := search(s.certs, certBytes, certRecord(c))
	return ok
}

func (s State) withVote(v Vote) State {
	return State{votes: insert(s.votes, voteBytes, voteRecord(v)), certs: s.certs}
}

func (s State) withCert(c Cert) State {
	return State{votes: s.votes, certs: insert(s.certs, certBytes, certRecord(c))}
}

func (s State) eachVote(f func(Vote)) {
	for i := 0; i < len(s.votes); i += voteBytes {
		r := s.votes[i:]
		f(Vote{getInt(r), getInt(r[intBytes:]), getInt(r[2*intBytes:])})
	}
}

func (s State) eachCert(f func(Cert)) {
	for i := 0; i < len(s.certs); i += certBytes {
		r := s.certs[i:]
		f(Cert{getInt(r), getInt(r[intBytes:])})
	}
}

// FromSets builds the state with the given votes and certificates
// (duplicates are ignored, order does not matter). cfg is not needed by the
// representation; it is taken so that callers do not depend on it. Tuples
// outside the config's sets are kept, so that TypeOK can report them.
func FromSets(cfg Config, votes []Vote, certs []Cert) State {
	var s State
	for _, v := range votes {
		s = s.withVote(v)
	}
	for _, c := range certs {
		s = s.withCert(c)
	}
	return s
}

// Votes returns the votes sorted by (Member, Slot, Value).
func (s State) Votes() []Vote {
	var vs []Vote
	s.eachVote(func(v Vote) { vs = append(vs, v) })
	return vs
}

// Certificates returns the certificates sorted by (Slot, Value).
func (s State) Certificates() []Cert {
	var cs []Cert
	s.eachCert(func(c Cert) { cs = append(cs, c) })
	return cs
}

// Equal reports whether s and t are the same state.
func (s State) Equal(t State) bool { return s == t }

// String prints the state as TLC prints one, e.g.
//
//	/\ votes = {<<1, 1, 2>>, <<4, 1, 1>>}
//	/\ certificates = {}
func (s State) String() string {
	var b strings.Builder
	b.WriteString("/\\ votes = {")
	sep := ""
	s.eachVote(func(v Vote) { b.WriteString(sep + v.String()); sep = ", " })
	b.WriteString("}\n/\\ certificates = {")
	sep = ""
	s.eachCert(func(c Cert) { b.WriteString(sep + c.String()); sep = ", " })
	b.WriteString("}")
	return b.String()
}

// encode appends the canonical encoding: the vote records' length, then
// both record strings (the widths are fixed, so this is unambiguous).
func (s State) encode(dst []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s.votes)))
	dst = append(dst, s.votes...)
	return append(dst, s.certs...)
}
