package tx

import "syscall"

const rusageThread = 1 // RUSAGE_THREAD (linux)

// threadCPU returns the CPU time consumed so far by the calling OS thread
// and whether it is available. Benchmarks on a shared machine report it
// next to wall time: CPU time per transfer is the per-core cost, wall time
// also counts the time other processes held the core.
func threadCPU() (int64, bool) { return rusage(rusageThread) }

// processCPU is the same for the whole process (all threads).
func processCPU() (int64, bool) { return rusage(syscall.RUSAGE_SELF) }

func rusage(who int) (int64, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(who, &ru); err != nil {
		return 0, false
	}
	return ru.Utime.Nano() + ru.Stime.Nano(), true
}
