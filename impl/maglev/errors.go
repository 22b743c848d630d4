package maglev

import (
	"errors"
	"fmt"
)

// Sentinel errors; every error returned by New or SizeFor wraps exactly one
// of them in a *ConfigError, so callers test with errors.Is and read the
// details with errors.As. spec: ENTRY-2, ENTRY-3
var (
	ErrNoQuorums       = errors.New("maglev: no quorums")
	ErrDuplicateQuorum = errors.New("maglev: duplicate quorum ID")
	ErrTableNotPrime   = errors.New("maglev: table size is not prime")
	ErrTableTooSmall   = errors.New("maglev: table size too small for the number of quorums")
	ErrTableTooLarge   = errors.New("maglev: table size too large")
	ErrTooManyQuorums  = errors.New("maglev: too many quorums")
)

// ConfigError says which configuration rule New refused and on what values.
type ConfigError struct {
	Err     error    // one of the sentinel errors above
	Quorums int      // number of quorums given
	Size    uint64   // table size given (0 when not relevant)
	Quorum  QuorumID // the repeated ID, for ErrDuplicateQuorum
}

func (e *ConfigError) Error() string {
	switch e.Err {
	case ErrDuplicateQuorum:
		return fmt.Sprintf("%v: %d", e.Err, e.Quorum)
	case ErrTableTooSmall:
		return fmt.Sprintf("%v: size %d < %d x %d quorums", e.Err, e.Size, MinEntriesPerQuorum, e.Quorums)
	case ErrTableTooLarge:
		return fmt.Sprintf("%v: size %d > %d", e.Err, e.Size, MaxTableSize)
	case ErrTableNotPrime:
		return fmt.Sprintf("%v: %d", e.Err, e.Size)
	case ErrTooManyQuorums:
		return fmt.Sprintf("%v: %d > %d", e.Err, e.Quorums, MaxQuorums)
	}
	return e.Err.Error()
}

// Unwrap lets errors.Is match the sentinel.
func (e *ConfigError) Unwrap() error { return e.Err }
