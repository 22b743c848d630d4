// Package timeout computes the pacemaker's view timeout (spec/pacemaker.md
// §6, rules PM-21 and PM-22, after seeds/004): a fixed timeout T0, or an
// adaptive one of ceil(mean + 3σ) over the last W observed durations of
// views left by progress, clamped to [Min, Max], doubled per consecutive
// timeout (capped at Max), the backoff reset when the replica commits.
//
// A Policy is pure: it reads no clock. The replica tells it how long each
// successful view took (durations are inputs, time is an event) and when a
// view timed out; the arithmetic is in integers so that every platform
// computes the same timeouts.
package timeout

import (
	"fmt"
	"math/big"
	"time"
)

// Mode selects fixed (PM-21) or adaptive (PM-22) timeouts.
type Mode uint8

const (
	Fixed    Mode = iota // every view waits Base
	Adaptive             // mean + 3σ of recent successful views, with backoff
)

func (m Mode) String() string {
	switch m {
	case Fixed:
		return "fixed"
	case Adaptive:
		return "adaptive"
	}
	return fmt.Sprintf("mode(%d)", uint8(m))
}

// Config parameterises a Policy. Zero fields take the defaults below.
type Config struct {
	Mode   Mode
	Base   time.Duration // T0: the fixed timeout, and the adaptive one before Window observations
	Min    time.Duration // adaptive lower clamp (Tmin)
	Max    time.Duration // adaptive upper clamp and backoff cap (Tmax)
	Window int           // W: successful views the estimate is taken over
}

// Defaults, chosen for simulations with message delays of a few
// milliseconds to tens of milliseconds.
const (
	DefaultBase   = time.Second
	DefaultMin    = 10 * time.Millisecond
	DefaultMax    = time.Minute
	DefaultWindow = 16
)

// WithDefaults fills zero fields.
func (c Config) WithDefaults() Config {
	if c.Base == 0 {
		c.Base = DefaultBase
	}
	if c.Min == 0 {
		c.Min = DefaultMin
	}
	if c.Max == 0 {
		c.Max = DefaultMax
	}
	if c.Window == 0 {
		c.Window = DefaultWindow
	}
	return c
}

// Validate enforces PM-35: 1ns ≤ Min ≤ Base ≤ Max and W ≥ 2.
func (c Config) Validate() error {
	switch {
	case c.Mode != Fixed && c.Mode != Adaptive:
		return fmt.Errorf("timeout: unknown mode %d", c.Mode)
	case c.Min < 1 || c.Base < c.Min || c.Max < c.Base:
		return fmt.Errorf("timeout: need 0 < min ≤ base ≤ max, got %v ≤ %v ≤ %v", c.Min, c.Base, c.Max)
	case c.Window < 2:
		return fmt.Errorf("timeout: window %d must be at least 2", c.Window)
	}
	return nil
}

// Policy is the timeout state of one replica.
type Policy struct {
	cfg     Config
	samples []time.Duration // ring buffer of the last Window successful views
	next    int             // ring write position
	k       int             // consecutive timeouts since the last commit
}

// New returns a policy; zero config fields take their defaults.
func New(cfg Config) (*Policy, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Policy{cfg: cfg, samples: make([]time.Duration, 0, cfg.Window)}, nil
}

// Config returns the policy's configuration (defaults filled).
func (p *Policy) Config() Config { return p.cfg }

// Backoffs is k, the number of timeouts since the last commit.
func (p *Policy) Backoffs() int { return p.k }

// Samples returns the observed durations in the window, oldest first.
func (p *Policy) Samples() []time.Duration {
	if len(p.samples) < p.cfg.Window {
		return append([]time.Duration(nil), p.samples...)
	}
	return append(append([]time.Duration(nil), p.samples[p.next:]...), p.samples[:p.next]...)
}

// ObserveView records the duration of a view the replica left by progress
// (an accepted proposal, or a QC it formed for its current view); views
// left by a certificate are not samples. spec: PM-22
func (p *Policy) ObserveView(d time.Duration) {
	if d < 0 {
		d = 0
	}
	if len(p.samples) < p.cfg.Window {
		p.samples = append(p.samples, d)
	} else {
		p.samples[p.next] = d
		p.next = (p.next + 1) % p.cfg.Window
	}
}

// Committed resets the backoff: the replica committed a new block, the one
// progress Byzantine leaders cannot fake. spec: PM-22
func (p *Policy) Committed() { p.k = 0 }

// TimedOut counts a timeout. spec: PM-22
func (p *Policy) TimedOut() {
	if p.k < 64 {
		p.k++
	}
}

// Timeout is the duration to wait in the next view.
// spec: PM-21 (fixed), PM-22 (adaptive)
func (p *Policy) Timeout() time.Duration {
	if p.cfg.Mode == Fixed {
		return p.cfg.Base
	}
	base := p.cfg.Base
	if len(p.samples) >= p.cfg.Window {
		base = Estimate(p.samples)
	}
	t := min(max(base, p.cfg.Min), p.cfg.Max)
	for range p.k {
		if t >= p.cfg.Max/2 {
			return p.cfg.Max
		}
		t *= 2
	}
	return t
}

// Estimate is ceil(mean + 3σ) of the samples, σ the population standard
// deviation, computed exactly in integers as
// ceil((S1 + isqrtCeil(9·(W·S2 − S1²))) / W), S1 = Σd, S2 = Σd²,
// isqrtCeil(x) the least r with r² ≥ x. It is 0 for no samples. spec: PM-22
func Estimate(samples []time.Duration) time.Duration {
	if len(samples) == 0 {
		return 0
	}
	w := big.NewInt(int64(len(samples)))
	s, sq, x := new(big.Int), new(big.Int), new(big.Int)
	for _, d := range samples {
		x.SetInt64(int64(max(d, 0)))
		s.Add(s, x)
		sq.Add(sq, x.Mul(x, x))
	}
	// 9·(W·S2 − S1²) ≥ 0 by Cauchy–Schwarz. ceil((S1 + ceil(y))/W) =
	// ceil((S1 + y)/W) for integer S1, so the result is exactly ceil(μ + 3σ).
	x.Mul(w, sq)
	x.Sub(x, new(big.Int).Mul(s, s))
	x.Mul(x, big.NewInt(9))
	v := new(big.Int).Sqrt(x)
	if new(big.Int).Mul(v, v).Cmp(x) < 0 {
		v.Add(v, big.NewInt(1))
	}
	v.Add(v, s)
	v.Add(v, new(big.Int).Sub(w, big.NewInt(1))) // ceiling division
	v.Quo(v, w)
	if !v.IsInt64() {
		return time.Duration(1<<63 - 1)
	}
	return time.Duration(v.Int64())
}
