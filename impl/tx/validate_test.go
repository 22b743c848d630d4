package tx

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"math"
	"testing"

	"pgregory.net/rapid"
)

var testCfg = Config{MinFee: 3}

// fixture: key(1) holds 1000 at nonce 5 with two pending transfers worth
// 100; the next valid transfer carries nonce 7.
func fixture() *views {
	v := newViews()
	v.accounts[pub(key(1))] = Account{Balance: 1000, Nonce: 5}
	v.pending[pub(key(1))] = Pending{Count: 2, Debits: 100}
	return v
}

// validTx is valid under fixture(): 7 = 5 + 2, 1000 >= 800 + 100 + 100.
func validTx() Transfer { return signed(1, 2, 800, 100, 7) }

type reasonCase struct {
	name   string
	tx     func() Transfer
	views  func() *views
	reason Reason
}

func resign(t Transfer, k uint64) Transfer { t.Sign(key(k)); return t }

var reasonCases = []reasonCase{
	{"valid", validTx, fixture, 0},
	{"self transfer", func() Transfer { t := validTx(); t.To = t.From; return resign(t, 1) }, fixture, ReasonSelfTransfer},
	{"zero amount", func() Transfer { t := validTx(); t.Amount = 0; return resign(t, 1) }, fixture, ReasonZeroAmount},
	{"fee too low", func() Transfer { t := validTx(); t.Fee = testCfg.MinFee - 1; return resign(t, 1) }, fixture, ReasonFeeTooLow},
	{"cost overflow", func() Transfer { t := validTx(); t.Amount = math.MaxUint64 - 99; return resign(t, 1) }, fixture, ReasonCostOverflow},
	{"nonce exhausted", func() Transfer { t := validTx(); t.Nonce = math.MaxUint64; return resign(t, 1) }, fixture, ReasonNonceExhausted},
	{"recipient off curve", func() Transfer { t := validTx(); t.To = offCurve(); return resign(t, 1) }, fixture, ReasonBadRecipient},
	{"recipient identity", func() Transfer { t := validTx(); t.To = AccountID{1}; return resign(t, 1) }, fixture, ReasonBadRecipient},
	{"recipient non-canonical", func() Transfer { t := validTx(); copy(t.To[:], encP); return resign(t, 1) }, fixture, ReasonBadRecipient},
	{"duplicate", validTx, func() *views { v := fixture(); tx := validTx(); v.seen[tx.Digest()] = true; return v }, ReasonDuplicate},
	{"replay", func() Transfer { t := validTx(); t.Nonce = 4; return resign(t, 1) }, fixture, ReasonReplay},
	{"nonce pending (first)", func() Transfer { t := validTx(); t.Nonce = 5; return resign(t, 1) }, fixture, ReasonNoncePending},
	{"nonce pending (last)", func() Transfer { t := validTx(); t.Nonce = 6; return resign(t, 1) }, fixture, ReasonNoncePending},
	{"nonce gap", func() Transfer { t := validTx(); t.Nonce = 8; return resign(t, 1) }, fixture, ReasonNonceGap},
	{"insufficient by one", func() Transfer { t := validTx(); t.Amount = 801; return resign(t, 1) }, fixture, ReasonInsufficientFunds},
	{"unknown sender", func() Transfer { t := signed(9, 2, 1, 3, 0); return t }, fixture, ReasonInsufficientFunds},
	{"bad signature", func() Transfer { t := validTx(); t.Signature[5] ^= 1; return t }, fixture, ReasonBadSignature},
	{"signed by another key", func() Transfer { t := validTx(); f := t.From; t = resign(t, 3); t.From = f; return t }, fixture, ReasonBadSignature},
	{"sender key small order", func() Transfer { t := validTx(); forgeSmallOrderKey(&t, 0, 1); return t }, func() *views {
		v := fixture()
		v.accounts[AccountID{1}] = Account{Balance: 1000, Nonce: 7}
		return v
	}, ReasonBadSenderKey},
}

// Every Reason is produced by some input, decoding included; adding a
// Reason without a case here fails the test.
// spec: TX-20 (and each rule's own ID in the case names)
func TestEveryReasonReachable(t *testing.T) {
	covered := map[Reason]bool{}
	for _, c := range reasonCases {
		t.Run(c.name, func(t *testing.T) {
			tr := c.tx()
			err := testCfg.Validate(&tr, c.views(), c.views())
			if got := ReasonOf(err); got != c.reason {
				t.Fatalf("reason %q (%v), want %q", got, err, c.reason)
			}
			if err != nil && !c.reason.Intrinsic() != (c.reason >= ReasonDuplicate && c.reason <= ReasonInsufficientFunds) {
				t.Fatalf("Intrinsic() wrong for %q", c.reason)
			}
			covered[c.reason] = true
		})
	}
	// The decoder's reasons.
	good := validTx()
	enc := encode(&good)
	for _, b := range [][]byte{enc[:10], append([]byte("X"), enc[1:]...), append(append([]byte{}, enc[:offSig+32]...), encL...)} {
		_, err := Decode(b)
		covered[ReasonOf(err)] = true
	}
	for _, r := range Reasons() {
		if !covered[r] {
			t.Errorf("no test input produces reason %q", r)
		}
	}
}

// spec: TX-20
func TestNilInputs(t *testing.T) {
	tr := validTx()
	for i, err := range []error{
		testCfg.Validate(&tr, nil, fixture()),
		testCfg.Validate(&tr, fixture(), nil),
		testCfg.Validate(nil, fixture(), fixture()),
		testCfg.ValidateVerified(nil, fixture(), fixture(), true),
		testCfg.CheckStateless(nil),
		VerifySignature(nil),
	} {
		if !errors.Is(err, ErrNilInput) || ReasonOf(err) != 0 {
			t.Fatalf("case %d: %v, want ErrNilInput", i, err)
		}
	}
}

// A transfer breaking several rules reports the first in TX-19 order.
// spec: TX-19
func TestPrecedence(t *testing.T) {
	cases := []struct {
		name   string
		mut    func(*Transfer, *views)
		reason Reason
	}{
		{"self transfer before zero amount and bad signature", func(t *Transfer, _ *views) { t.To = t.From; t.Amount = 0; t.Signature[0] ^= 1 }, ReasonSelfTransfer},
		{"fee before nonce", func(t *Transfer, _ *views) { t.Fee = 0; t.Nonce = 1 }, ReasonFeeTooLow},
		{"recipient before duplicate", func(t *Transfer, v *views) { t.To = offCurve(); v.seen[t.Digest()] = true }, ReasonBadRecipient},
		{"duplicate before nonce pending", func(t *Transfer, v *views) { t.Nonce = 5; v.seen[t.Digest()] = true }, ReasonDuplicate},
		{"replay before funds", func(t *Transfer, _ *views) { t.Nonce = 0; t.Amount = 5000 }, ReasonReplay},
		{"gap before funds", func(t *Transfer, _ *views) { t.Nonce = 9; t.Amount = 5000 }, ReasonNonceGap},
		{"funds before signature", func(t *Transfer, _ *views) { t.Amount = 5000 }, ReasonInsufficientFunds},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tr, v := validTx(), fixture()
			c.mut(&tr, v)
			if got := ReasonOf(testCfg.Validate(&tr, v, v)); got != c.reason {
				t.Fatalf("reason %q, want %q", got, c.reason)
			}
		})
	}
}

// Arithmetic at the edges of uint64. spec: TX-12, TX-13, TX-16, TX-17, TX-18
func TestOverflow(t *testing.T) {
	const M = math.MaxUint64
	cases := []struct {
		name               string
		amount, fee, nonce uint64
		balance, acctNonce uint64
		count, debits      uint64
		reason             Reason
	}{
		{"whole balance, cost = 2^64-1", M - 3, 3, 0, M, 0, 0, 0, 0},
		{"cost = 2^64-1 plus one pending unit", M - 3, 3, 1, M, 0, 1, 1, ReasonInsufficientFunds},
		{"cost + debits carries out", 1, 3, 1, M, 0, 1, M, ReasonInsufficientFunds},
		{"debits = balance, cost 4", 1, 3, 1, M, 0, 1, M - 4, 0},
		{"amount + fee carries out", M, 3, 0, M, 0, 0, 0, ReasonCostOverflow},
		{"amount + fee = 2^64 exactly", M - 2, 3, 0, M, 0, 0, 0, ReasonCostOverflow},
		{"last usable nonce", 1, 3, M - 1, 10, M - 1, 0, 0, 0},
		{"nonce 2^64-1", 1, 3, M, 10, M - 1, 1, 0, ReasonNonceExhausted},
		{"account nonce 2^64-1, tx below", 1, 3, M - 1, 10, M, 0, 0, ReasonReplay},
		{"nonce + pending count overflows: inside pending range", 1, 3, M - 1, 10, M - 3, 10, 0, ReasonNoncePending},
		{"pending count 2^64-1", 1, 3, 5, 10, 5, M, 0, ReasonNoncePending},
		{"gap at the top", 1, 3, M - 1, 10, 0, 0, 0, ReasonNonceGap},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tr := signed(1, 2, c.amount, c.fee, c.nonce)
			v := fixedViews{acct: Account{Balance: c.balance, Nonce: c.acctNonce}, pend: Pending{Count: c.count, Debits: c.debits}}
			if got := ReasonOf(testCfg.Validate(&tr, v, v)); got != c.reason {
				t.Fatalf("reason %q, want %q", got, c.reason)
			}
		})
	}
}

// A transfer signed by From's key, under a view that matches it, is valid.
// spec: TX-7, TX-9 … TX-18
func TestValidAlwaysValidates(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		cfg := Config{MinFee: rapid.Uint64Range(0, 1000).Draw(t, "minFee")}
		from := rapid.Uint64().Draw(t, "from")
		to := rapid.Uint64().Filter(func(x uint64) bool { return x != from }).Draw(t, "to")
		fee := rapid.Uint64Range(cfg.MinFee, math.MaxUint64-1).Draw(t, "fee")
		amount := rapid.Uint64Range(1, math.MaxUint64-fee).Draw(t, "amount")
		acctNonce := rapid.Uint64Range(0, math.MaxUint64-1).Draw(t, "acctNonce")
		count := rapid.Uint64Range(0, math.MaxUint64-1-acctNonce).Draw(t, "count")
		debits := rapid.Uint64Range(0, math.MaxUint64-amount-fee).Draw(t, "debits")
		balance := rapid.Uint64Range(amount+fee+debits, math.MaxUint64).Draw(t, "balance")
		tr := signed(from, to, amount, fee, acctNonce+count)
		v := fixedViews{acct: Account{balance, acctNonce}, pend: Pending{count, debits}}
		if err := cfg.Validate(&tr, v, v); err != nil {
			t.Fatalf("valid transfer refused: %v", err)
		}
		if err := cfg.ValidateVerified(&tr, v, v, true); err != nil {
			t.Fatalf("ValidateVerified refused: %v", err)
		}
		if ReasonOf(cfg.ValidateVerified(&tr, v, v, false)) != ReasonBadSignature {
			t.Fatal("ValidateVerified ignored a false signature verdict")
		}
	})
}

// ValidateVerified with the single verdict equals Validate, on arbitrary
// (mostly invalid) transfers and views. spec: TX-8, TX-19
func TestValidateVerifiedAgrees(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		tr := *genEntryNonNil(t)
		if rapid.Bool().Draw(t, "self") {
			tr.To = tr.From
		}
		v := fixedViews{
			acct: Account{rapid.Uint64().Draw(t, "balance"), rapid.Uint64Range(0, 20).Draw(t, "nonce")},
			pend: Pending{rapid.Uint64Range(0, 20).Draw(t, "count"), rapid.Uint64().Draw(t, "debits")},
			seen: rapid.Bool().Draw(t, "seen"),
		}
		cfg := Config{MinFee: rapid.Uint64Range(0, 2).Draw(t, "minFee")}
		a := cfg.Validate(&tr, v, v)
		b := cfg.ValidateVerified(&tr, v, v, VerifySignature(&tr) == nil)
		if fmt.Sprint(a) != fmt.Sprint(b) {
			t.Fatalf("Validate %v, ValidateVerified %v", a, b)
		}
	})
}

func genEntryNonNil(t *rapid.T) *Transfer {
	for {
		if tr := genEntry(t, rapid.IntRange(0, 20).Draw(t, "i")); tr != nil {
			return tr
		}
	}
}

// mutationEscapes returns the (offset, xor) single-byte mutations of enc
// that still decode and pass verify.
func mutationEscapes(enc []byte, deltas []byte, verify func(*Transfer) bool) [][2]int {
	var out [][2]int
	for off := range enc {
		for _, d := range deltas {
			b := bytes.Clone(enc)
			b[off] ^= d
			tr, err := Decode(b)
			if err == nil && verify(&tr) {
				out = append(out, [2]int{off, int(d)})
			}
		}
	}
	return out
}

func verifyTX7(t *Transfer) bool { return VerifySignature(t) == nil }

// Any single-byte change to a signed encoding fails decoding or the
// signature: every byte is either fixed (domain) or signed.
// spec: TX-2, TX-4, TX-6, TX-7
func TestSingleByteMutation(t *testing.T) {
	tr := validTx()
	enc := encode(&tr)
	if esc := mutationEscapes(enc, []byte{0x01, 0x02, 0x80, 0xff}, verifyTX7); len(esc) > 0 {
		t.Fatalf("mutations that still verify: %v", esc)
	}
	rapid.Check(t, func(t *rapid.T) {
		tr := signed(rapid.Uint64().Draw(t, "from"), rapid.Uint64().Draw(t, "to"),
			rapid.Uint64().Draw(t, "amount"), rapid.Uint64().Draw(t, "fee"), rapid.Uint64().Draw(t, "nonce"))
		b := encode(&tr)
		off := rapid.IntRange(0, EncodedSize-1).Draw(t, "off")
		b[off] ^= rapid.ByteRange(1, 255).Draw(t, "xor")
		if m, err := Decode(b); err == nil && VerifySignature(&m) == nil {
			t.Fatalf("mutation at %d still verifies", off)
		}
	})
}

// The mutation checker catches a planted bug: a signer and verifier that
// leave the fee out of the signed message. If this test ever passes the
// planted bug, the checker above cannot be trusted.
func TestMutationCheckerCatchesUnsignedField(t *testing.T) {
	buggyMsg := func(t *Transfer) []byte {
		m := t.SigningBytes()
		clear(m[offFee : offFee+8]) // the planted bug: fee not signed
		return m
	}
	tr := Transfer{To: pub(key(2)), Amount: 800, Fee: 100, Nonce: 7}
	priv := key(1)
	copy(tr.From[:], priv[32:])
	copy(tr.Signature[:], ed25519.Sign(priv, buggyMsg(&tr)))
	buggyVerify := func(t *Transfer) bool { return ed25519.Verify(t.From[:], buggyMsg(t), t.Signature[:]) }
	esc := mutationEscapes(encode(&tr), []byte{0x01}, buggyVerify)
	if len(esc) != 8 || esc[0][0] != offFee || esc[7][0] != offFee+7 {
		t.Fatalf("checker missed the planted unsigned fee: escapes %v", esc)
	}
}
