//go:build !race

package leftright

import (
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
)

// TestCatchesNoWaitConcurrent runs the concurrent harness against a writer
// that replays onto the old read side without waiting for its readers. The
// resulting torn reads are data races by construction, so this test is left
// out of -race builds (TestCatchesTornRead forces the same bug race-free).
// Whether a replay overlaps a read is up to the scheduler, so the test tries
// seeds in order and requires porcupine to catch the bug within a few;
// with the harness's long reads the first seed normally suffices.
func TestCatchesNoWaitConcurrent(t *testing.T) {
	const tries = 10
	for seed := uint64(1); seed <= tries; seed++ {
		h := harness{seed: seed, readers: 3, ops: 2000, bug: bugNoWait}
		history, _ := h.run()
		_, digest := h.values()
		if res, _ := porcupine.CheckOperationsVerbose(lrModel(digest), history, time.Minute); res == porcupine.Illegal {
			t.Logf("%v: caught (%d operations)", h, len(history))
			return
		}
	}
	t.Errorf("porcupine did not catch the no-wait bug in %d seeds", tries)
}
