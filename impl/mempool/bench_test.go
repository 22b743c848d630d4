package mempool

import (
	"testing"

	"github.com/fhbft/fhbft/impl/tx"
)

// BenchmarkLifecycle: one transfer's way through the writer: Add,
// MarkValidated, MarkFinalized, with a Publish every 100 transfers, over
// 1000 senders. Reported per transfer.
//
//	go test -run '^$' -bench . ./impl/mempool
func BenchmarkLifecycle(b *testing.B) {
	m, err := New(DefaultConfig())
	if err != nil {
		b.Fatal(err)
	}
	const senders = 1000
	nonce := make([]uint64, senders)
	i := 0
	for b.Loop() {
		s := i % senders
		t := tx.Transfer{From: tx.AccountID{byte(s >> 8), byte(s)}, To: tx.AccountID{0xFF}, Amount: 1, Nonce: nonce[s]}
		if _, err := m.Add(&t, nonce[s]); err != nil {
			b.Fatal(err)
		}
		if _, err := m.MarkValidated(t.Digest()); err != nil {
			b.Fatal(err)
		}
		if _, err := m.MarkFinalized(&t); err != nil {
			b.Fatal(err)
		}
		nonce[s]++
		i++
		if i%100 == 0 {
			m.Publish()
		}
	}
}

// BenchmarkReaderPending: one tx.PendingView answer (Pending + Seen, as
// Validate asks) through a Reader, with 1000 tracked senders.
func BenchmarkReaderPending(b *testing.B) {
	m, _ := New(DefaultConfig())
	for s := range 1000 {
		t := tx.Transfer{From: tx.AccountID{byte(s >> 8), byte(s)}, To: tx.AccountID{0xFF}, Amount: 1}
		m.Add(&t, 0)
		m.MarkValidated(t.Digest())
	}
	m.Publish()
	r := m.NewReader()
	defer r.Close()
	i := 0
	for b.Loop() {
		id := tx.AccountID{byte(i >> 8 & 3), byte(i)}
		_ = r.Pending(id)
		_ = r.Seen(tx.Digest{byte(i)})
		i++
	}
}
