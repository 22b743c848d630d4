//go:build !linux

package validator

func processCPU() (int64, bool) { return 0, false }
