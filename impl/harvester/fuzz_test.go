package harvester

import (
	"encoding/binary"
	"testing"

	"github.com/fhbft/fhbft/impl/certification"
	"github.com/fhbft/fhbft/impl/dag"
	pm "github.com/fhbft/fhbft/impl/pacemaker"
)

// seedCommand is a valid command for round 1: a convergence block of the
// elected miner over empty blocks of harvesters 1..3, certified.
func seedCommand(tb testing.TB) (pm.Command, dag.ConvergenceBlock) {
	tb.Helper()
	f := fixture(tb)
	g := dag.Genesis(f.Harvesters.Quorum, f.Harvesters.Epoch, f.Genesis.Root())
	var in dag.Input
	for m := 1; m <= 3; m++ {
		b := dag.ProposalBlock{Quorum: f.Harvesters.Quorum, Epoch: f.Harvesters.Epoch, Round: 1, Proposer: certification.Member(m), Prev: g.Hash()}
		in.Blocks = append(in.Blocks, dag.SignProposal(f.Shares[m-1], b))
	}
	ranking := dag.MinerRanking(g.Beacon, 1, testMiners)
	out, err := dag.Converge(f.Params, &g, g.Beacon, f.Genesis, ranking[0], 0, in)
	if err != nil {
		tb.Fatal(err)
	}
	cert, err := f.CertifyConvergence(&out.Block)
	if err != nil {
		tb.Fatal(err)
	}
	return EncodeCommand(cert, &out.Block), out.Block
}

// appendCmd frames one command for FuzzCommitted: flag u8 ‖ len u16 ‖
// payload; an even flag gives the command its payload's ID (so decoding
// gets past the ID check), an odd one ID = flag.
func appendCmd(b []byte, flag byte, payload []byte) []byte {
	b = append(b, flag)
	b = binary.BigEndian.AppendUint16(b, uint16(len(payload)))
	return append(b, payload...)
}

// FuzzCommitted feeds a harvester (started if the first byte has its top
// bit set: Start signs a block, which is slow under -fuzz instrumentation)
// committed commands made of garbage and near-valid encodings: Step never
// panics, never reports a violation, and no command it cannot check moves
// its ledger. spec: FIN-1, CERT-19, PB-7
func FuzzCommitted(f *testing.F) {
	cmd, _ := seedCommand(f)
	f.Add(appendCmd(nil, 0, cmd.Payload))
	f.Add(appendCmd(nil, 0x80, cmd.Payload)) // started: the command waits for its blocks
	f.Add(appendCmd(appendCmd(nil, 0, cmd.Payload[:len(cmd.Payload)/2]), 3, []byte("FHBFT/dag/cmd/v1")))
	f.Add([]byte{0, 0, 20, 'F', 'H', 'B', 'F', 'T', '/', 'd', 'a', 'g', '/', 'c', 'm', 'd', '/', 'v', '1', 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, in []byte) {
		h := newHarvester(t, 1, nil)
		if len(in) > 0 && in[0]&0x80 != 0 {
			h.Step(Start{}) // costly under -fuzz instrumentation (a BLS signature)
		}
		round := h.Round()
		var cmds []pm.Command
		for len(in) >= 3 {
			flag, n := in[0], int(binary.BigEndian.Uint16(in[1:3]))
			in = in[3:]
			p := in[:min(n, len(in))]
			in = in[len(p):]
			c := pm.Command{ID: pm.CommandID(flag), Payload: p}
			if flag%2 == 0 {
				c.ID = CommandID(p)
			}
			cmds = append(cmds, c)
		}
		for _, e := range h.Step(Committed{Cmds: cmds}) {
			if v, ok := e.(Violation); ok {
				t.Fatalf("violation: %v", v.Err)
			}
			if _, ok := e.(Finalized); ok {
				t.Fatal("finalized a block whose proposal blocks it never saw")
			}
		}
		if h.Round() != round || len(h.FinalChain()) != 1 {
			t.Fatalf("ledger moved: round %d, chain %d", h.Round(), len(h.FinalChain()))
		}
	})
}
