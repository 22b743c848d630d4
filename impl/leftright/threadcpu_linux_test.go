package leftright

import (
	"syscall"
	"time"
)

// threadCPU is the CPU time consumed so far by the calling OS thread (the
// caller must hold runtime.LockOSThread). Benchmarks report it next to wall
// time because wall time on a shared machine also counts time the thread
// spent descheduled.
func threadCPU() (time.Duration, bool) {
	const rusageThread = 1 // RUSAGE_THREAD, Linux
	var ru syscall.Rusage
	if err := syscall.Getrusage(rusageThread, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
