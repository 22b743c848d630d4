//go:build !linux

package leftright

import "time"

func threadCPU() (time.Duration, bool) { return 0, false }
