// Package sim is the deterministic simulator that drives fhbft's step
// functions (BRIEF §4: drivers do the I/O). For now it drives the
// certification collector (spec/certification.md): a quorum of voters,
// some Byzantine or crashed, sends votes over a simulated network with
// seeded delays and drops to several collectors, which form certificates.
//
// Everything the protocol does is reproducible from Config.Seed. Only the
// wall-clock crypto timings in the Report vary between runs.
package sim

import (
	"container/heap"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/fhbft/fhbft/impl/certification"
	"github.com/fhbft/fhbft/impl/crypto/bls"
	"github.com/fhbft/fhbft/impl/crypto/threshold"
)

// Behaviour is what a Byzantine voter does.
type Behaviour string

const (
	Equivocate  Behaviour = "equivocate"  // signs accept and reject, sends different ones to different collectors (CERT-8)
	Forge       Behaviour = "forge"       // a signature from a key that is not its share (CERT-6)
	WrongEpoch  Behaviour = "wrong-epoch" // a valid signature for another epoch (CERT-4)
	Duplicate   Behaviour = "duplicate"   // the same vote several times (CERT-7)
	Impersonate Behaviour = "impersonate" // claims a member index that is not its own (CERT-6)
	Outsider    Behaviour = "outsider"    // a member index outside the roster (CERT-4)
	Silent      Behaviour = "silent"      // sends nothing (CERT-13)
)

// AllBehaviours is the default rotation of Byzantine behaviours.
var AllBehaviours = []Behaviour{Equivocate, Forge, WrongEpoch, Duplicate, Impersonate, Outsider, Silent}

// Config describes one simulation.
type Config struct {
	Seed       uint64
	N, Q       int // quorum size and threshold; Q = 0 means ceil(0.6·N)
	Collectors int
	Subjects   int         // slots to certify, one released every Interval
	Byzantine  int         // the last Byzantine members of the roster are Byzantine
	Behaviours []Behaviour // rotated over Byzantine members and slots; nil means AllBehaviours
	Crashed    int         // honest members (just below the Byzantine ones) that crash at CrashAt
	CrashAt    time.Duration
	MinDelay   time.Duration
	MaxDelay   time.Duration
	DropRate   float64 // probability a message is lost
	Interval   time.Duration
}

// Default is the configuration `fhbft simulate` starts from.
func Default() Config {
	return Config{
		Seed: 1, N: 10, Collectors: 3, Subjects: 20, Byzantine: 1, Crashed: 2,
		CrashAt: 50 * time.Millisecond, MinDelay: 2 * time.Millisecond, MaxDelay: 30 * time.Millisecond,
		DropRate: 0.02, Interval: 10 * time.Millisecond,
	}
}

// SlotResult is what happened to one subject.
type SlotResult struct {
	Slot      int
	Subject   certification.Digest
	Certified int           // collectors that formed a certificate
	First     time.Duration // simulated time of the first certificate; -1 if none
	Last      time.Duration
	Signers   []certification.Member // of the first certificate
	Verdict   certification.Verdict
}

// Report summarises a run.
type Report struct {
	Config        Config
	Q             int
	Slots         []SlotResult
	Counted       int
	Rejected      map[certification.Reason]int
	Evidence      map[certification.Member]bool // members proven to equivocate
	Messages      int
	Dropped       int
	Violations    []string // invariant failures; a correct run has none
	SimulatedTime time.Duration
	// Wall-clock crypto cost: signing votes, collector steps (dominated by
	// partial verification and combination), and verifying certificates.
	SignTime, StepTime, CertVerifyTime time.Duration
	Signs, Steps, CertVerifies         int
	Stats                              certification.Stats
}

type delivery struct {
	at        time.Duration
	seq       int
	collector int
	vote      certification.Vote
}

type queue []delivery

func (q queue) Len() int { return len(q) }
func (q queue) Less(i, j int) bool {
	if q[i].at != q[j].at {
		return q[i].at < q[j].at
	}
	return q[i].seq < q[j].seq
}
func (q queue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *queue) Push(x any)   { *q = append(*q, x.(delivery)) }
func (q *queue) Pop() any {
	old := *q
	d := old[len(old)-1]
	*q = old[:len(old)-1]
	return d
}

// Validate rejects configurations the simulator cannot run.
func (c Config) Validate() error {
	switch {
	case c.N < 1:
		return fmt.Errorf("sim: n must be at least 1, got %d", c.N)
	case c.Q < 0 || c.Q > c.N:
		return fmt.Errorf("sim: q must be in 0..n, got %d", c.Q)
	case c.Collectors < 1:
		return fmt.Errorf("sim: need at least one collector")
	case c.Byzantine < 0 || c.Crashed < 0 || c.Byzantine+c.Crashed > c.N:
		return fmt.Errorf("sim: byzantine (%d) + crashed (%d) exceed n (%d)", c.Byzantine, c.Crashed, c.N)
	case c.MinDelay < 0 || c.MaxDelay < c.MinDelay:
		return fmt.Errorf("sim: need 0 ≤ min delay ≤ max delay")
	case c.DropRate < 0 || c.DropRate >= 1:
		return fmt.Errorf("sim: drop rate must be in [0, 1)")
	}
	return nil
}

// Run executes the simulation.
func Run(cfg Config) (*Report, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	q := cfg.Q
	if q == 0 {
		q = certification.DefaultThreshold(cfg.N)
	}
	behaviours := cfg.Behaviours
	if len(behaviours) == 0 {
		behaviours = AllBehaviours
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x66686266))
	keyRand := rand.NewChaCha8(seedBytes(cfg.Seed))
	gk, shares, err := threshold.TrustedDealerForTesting(cfg.N, q, keyRand)
	if err != nil {
		return nil, err
	}
	roster := certification.Roster{Quorum: 7, Epoch: 1, Key: gk}
	collectors := make([]*certification.Collector, cfg.Collectors)
	for i := range collectors {
		if collectors[i], err = certification.NewCollector(roster, certification.Options{}); err != nil {
			return nil, err
		}
	}
	rep := &Report{Config: cfg, Q: q, Rejected: map[certification.Reason]int{}, Evidence: map[certification.Member]bool{}}
	byzFrom := cfg.N - cfg.Byzantine + 1       // members byzFrom..N are Byzantine
	crashFrom := byzFrom - cfg.Crashed         // members crashFrom..byzFrom-1 crash at CrashAt
	outsiderKey, _ := bls.GenerateKey(keyRand) // Forge signs with a key that is no one's share

	var pq queue
	seq := 0
	send := func(at time.Duration, to int, v certification.Vote) {
		rep.Messages++
		if rng.Float64() < cfg.DropRate {
			rep.Dropped++
			return
		}
		delay := cfg.MinDelay
		if span := cfg.MaxDelay - cfg.MinDelay; span > 0 {
			delay += time.Duration(rng.Int64N(int64(span) + 1))
		}
		seq++
		heap.Push(&pq, delivery{at: at + delay, seq: seq, collector: to, vote: v})
	}
	sign := func(m int, st certification.Statement) certification.Vote {
		t0 := time.Now()
		v := certification.SignVote(shares[m-1], st)
		rep.SignTime += time.Since(t0)
		rep.Signs++
		return v
	}

	rep.Slots = make([]SlotResult, cfg.Subjects)
	for s := 0; s < cfg.Subjects; s++ {
		at := time.Duration(s) * cfg.Interval
		subject := subjectDigest(cfg.Seed, s)
		rep.Slots[s] = SlotResult{Slot: s + 1, Subject: subject, First: -1}
		st := certification.Statement{Quorum: roster.Quorum, Epoch: roster.Epoch,
			Slot: certification.RoundSlot(uint64(s + 1)), Value: certification.Value{Subject: subject, Verdict: certification.Accept}}
		for m := 1; m <= cfg.N; m++ {
			switch {
			case m >= byzFrom:
				// Rotate per member and slot so one Byzantine member shows every behaviour.
				b := behaviours[(m-byzFrom+s)%len(behaviours)]
				byzantine(b, m, st, cfg, sign, send, at, outsiderKey)
			case m >= crashFrom && at >= cfg.CrashAt:
				// crashed: silent from CrashAt on (CERT-13)
			default:
				v := sign(m, st) // an honest member votes once per slot (CERT-5)
				for c := 0; c < cfg.Collectors; c++ {
					send(at, c, v)
				}
			}
		}
	}

	certs := make([]map[certification.Slot]certification.Certificate, cfg.Collectors)
	for i := range certs {
		certs[i] = map[certification.Slot]certification.Certificate{}
	}
	for pq.Len() > 0 {
		d := heap.Pop(&pq).(delivery)
		rep.SimulatedTime = d.at
		t0 := time.Now()
		eff := collectors[d.collector].Step(certification.VoteReceived{Vote: d.vote})
		rep.StepTime += time.Since(t0)
		rep.Steps++
		if eff.Counted {
			rep.Counted++
		}
		if eff.Rejected != nil {
			rep.Rejected[certification.ReasonOf(eff.Rejected)]++
		}
		if eff.Evidence != nil {
			if err := eff.Evidence.Verify(roster); err != nil {
				rep.Violations = append(rep.Violations, fmt.Sprintf("collector %d produced unverifiable evidence: %v", d.collector, err))
			}
			rep.Evidence[eff.Evidence.First.Member] = true
		}
		if c := eff.Certificate; c != nil {
			t0 := time.Now()
			err := c.Verify(roster)
			rep.CertVerifyTime += time.Since(t0)
			rep.CertVerifies++
			if err != nil {
				rep.Violations = append(rep.Violations, fmt.Sprintf("collector %d formed an invalid certificate: %v", d.collector, err))
			}
			certs[d.collector][c.Slot] = *c
			idx := int(binary.BigEndian.Uint64(c.Slot.ID[24:])) - 1
			if idx >= 0 && idx < len(rep.Slots) {
				r := &rep.Slots[idx]
				if r.First < 0 {
					r.First, r.Signers, r.Verdict = d.at, c.Signers.Members(), c.Value.Verdict
				}
				r.Last = d.at
				r.Certified++
			}
		}
	}
	rep.Violations = append(rep.Violations, checkInvariants(roster, certs, byzFrom)...)
	for _, c := range collectors {
		s := c.Stats()
		rep.Stats.PartialVerifies += s.PartialVerifies
		rep.Stats.Combines += s.Combines
	}
	return rep, nil
}

// checkInvariants is the simulator's end-of-run check of CERT-11 and CERT-12
// across collectors.
func checkInvariants(r certification.Roster, certs []map[certification.Slot]certification.Certificate, byzFrom int) []string {
	var out []string
	bySlot := map[certification.Slot][]certification.Certificate{}
	for _, m := range certs {
		for s, c := range m {
			bySlot[s] = append(bySlot[s], c)
		}
	}
	slots := make([]certification.Slot, 0, len(bySlot))
	for s := range bySlot {
		slots = append(slots, s)
	}
	slices.SortFunc(slots, func(a, b certification.Slot) int { return slices.Compare(a.ID[:], b.ID[:]) })
	byz := r.N() - byzFrom + 1
	for _, s := range slots {
		cs := bySlot[s]
		for _, c := range cs[1:] {
			if c.Value != cs[0].Value {
				out = append(out, fmt.Sprintf("CertificateUniqueness: two values certified in slot %x", s.ID[24:]))
			}
		}
		for _, c := range cs {
			honest := 0
			for _, m := range c.Signers.Members() {
				if int(m) < byzFrom {
					honest++
				}
			}
			if honest < r.Q()-byz {
				out = append(out, fmt.Sprintf("CertificateValidity: %d honest signers < q-b = %d", honest, r.Q()-byz))
			}
		}
	}
	return out
}

// byzantine sends member m's misbehaviour for one slot.
func byzantine(b Behaviour, m int, st certification.Statement, cfg Config,
	sign func(int, certification.Statement) certification.Vote,
	send func(time.Duration, int, certification.Vote), at time.Duration, outsider bls.SecretKey) {
	all := func(v certification.Vote) {
		for c := 0; c < cfg.Collectors; c++ {
			send(at, c, v)
		}
	}
	switch b {
	case Silent:
	case Equivocate:
		other := st
		other.Value.Verdict = certification.Reject
		good, bad := sign(m, st), sign(m, other)
		for c := 0; c < cfg.Collectors; c++ {
			if c%2 == 0 {
				send(at, c, good)
				send(at, c, bad)
			} else {
				send(at, c, bad)
			}
		}
	case Forge:
		v := sign(m, st)
		v.Partial = bls.Sign(outsider, certification.DST(st.Slot.Kind), st.Message())
		all(v)
	case WrongEpoch:
		other := st
		other.Epoch++
		all(sign(m, other))
	case Duplicate:
		v := sign(m, st)
		all(v)
		all(v)
	case Impersonate:
		v := sign(m, st)
		v.Member = 1 // claims to be member 1: its partial does not verify under member 1's share
		all(v)
	case Outsider:
		v := sign(m, st)
		v.Member = certification.Member(cfg.N + 1)
		all(v)
	}
}

func subjectDigest(seed uint64, s int) certification.Digest {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], seed)
	binary.BigEndian.PutUint64(b[8:], uint64(s))
	return sha256.Sum256(b[:])
}

func seedBytes(seed uint64) [32]byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], seed)
	return sha256.Sum256(b[:])
}
