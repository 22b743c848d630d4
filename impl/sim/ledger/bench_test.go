package ledger

import (
	"fmt"
	"testing"
	"time"

	farmsim "github.com/fhbft/fhbft/impl/sim/farmer"
)

// benchConfig is the fixed workload of BenchmarkQuorumScaling: 48 clients ×
// 4 valid transfers through k farmer quorums of 7, 4 harvesters (qH = 3)
// and 3 miners, all honest (a Byzantine farmer per quorum would make the
// fault count grow with k: a silent home farmer costs its clients a
// resubmission timeout). Validation costs 1 ms of simulated time per
// transfer per farmer core (impl/sim/farmer models it as latency per
// batch), so that farmer work shows in simulated time.
func benchConfig(k int) Config {
	c := Default()
	c.Farm.Quorums = k
	c.Farm.Clients, c.Farm.Transfers = 48, 4
	c.Farm.Invalid = farmsim.Mix{}
	c.Farm.Byzantine = 0
	c.Farm.ValidationCost = time.Millisecond
	c.Harvesters, c.Miners = 4, 3
	return c
}

// BenchmarkQuorumScaling measures the whole protocol with K = 1, 2, 4, 8
// farmer quorums and one fixed workload (seeds/000 claims throughput grows
// with the number of quorums). Metrics per run:
//
//   - cpu-ns/final-tx: process CPU time (all goroutines) per finalized
//     transfer;
//   - final-tx/cpu-s: its inverse;
//   - sim-final-tx/sim-s: finalized transfers per simulated second, up to
//     the last final round;
//   - max-validations/farmer: the busiest honest farmer's validations (the
//     farmer-side load, which the quorums share).
//
// K = 1 is the baseline. What it shows (2 vCPUs, one run each): the
// busiest farmer's validations fall about as 1/K (181, 100, 55, 32), so the
// farmer side does scale with the quorums as seeds/000 claims; but CPU per
// finalized transfer does not fall (39, 41, 43, 57 ms) and neither does
// simulated throughput (about 1000 transfers/s for every K): every
// harvester checks every vote of every quorum (VOTE-5) and the rounds of
// proposal blocks, convergence and pacemaker are the same whatever K, so the
// harvester quorum, not the farmer quorums, bounds end-to-end throughput.
func BenchmarkQuorumScaling(b *testing.B) {
	for _, k := range []int{1, 2, 4, 8} {
		b.Run(fmt.Sprintf("K=%d", k), func(b *testing.B) {
			cfg := benchConfig(k)
			var cpu time.Duration
			var fin, maxVal int
			var simRate float64
			for i := 0; i < b.N; i++ {
				rep, err := Run(cfg)
				if err != nil {
					b.Fatalf("K=%d seed %d: %v", k, cfg.Seed, err)
				}
				cpu += rep.CPU
				fin += rep.Finalized
				simRate += rep.FinalizedPerSimSecond()
				for _, q := range rep.Farm.Quorums {
					maxVal = max(maxVal, q.MaxValidation)
				}
			}
			if fin == 0 {
				b.Fatalf("K=%d: nothing finalized", k)
			}
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(fin), "cpu-ns/final-tx")
			b.ReportMetric(float64(fin)/cpu.Seconds(), "final-tx/cpu-s")
			b.ReportMetric(simRate/float64(b.N), "sim-final-tx/sim-s")
			b.ReportMetric(float64(maxVal), "max-validations/farmer")
		})
	}
}
