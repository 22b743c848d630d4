package scheduler

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every error Step returns is an *InputError wrapping
// exactly one of them; test with errors.Is, read details with errors.As.
// A Step that returns an error changed nothing. spec: SCHED-15
var (
	ErrNilEvent       = errors.New("scheduler: nil or unknown event")
	ErrMalformedTask  = errors.New("scheduler: malformed task")
	ErrDuplicateTask  = errors.New("scheduler: task already held")
	ErrUnknownTask    = errors.New("scheduler: task not held")
	ErrWrongQueue     = errors.New("scheduler: task is in another queue")
	ErrFull           = errors.New("scheduler: queues full")
	ErrUnknownPeer    = errors.New("scheduler: not a peer of this node")
	ErrUnknownQuorum  = errors.New("scheduler: quorum not in the quorum map")
	ErrMalformedLoad  = errors.New("scheduler: malformed load report")
	ErrStaleReport    = errors.New("scheduler: load report not newer than the last one")
	ErrWrongEpoch     = errors.New("scheduler: load report for another epoch")
	ErrMalformedMap   = errors.New("scheduler: malformed quorum map")
	ErrStaleMap       = errors.New("scheduler: quorum map epoch not newer")
	ErrClockBackwards = errors.New("scheduler: tick earlier than the current time")
)

// InputError says which event was refused, which field was wrong and why.
type InputError struct {
	Err    error  // one of the sentinels above
	Event  string // event type, e.g. "TaskArrived"
	Field  string // e.g. "task.cost", "load.local.total"; empty when the whole event
	Detail string
}

func (e *InputError) Error() string {
	s := e.Err.Error() + " (" + e.Event
	if e.Field != "" {
		s += "." + e.Field
	}
	s += ")"
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

// Unwrap exposes the sentinel.
func (e *InputError) Unwrap() error { return e.Err }

// Benign reports whether the error happens in fault-free runs (late or
// repeated inputs) rather than signalling a fault or an attack.
func Benign(err error) bool {
	return errors.Is(err, ErrStaleReport) || errors.Is(err, ErrWrongEpoch) || errors.Is(err, ErrDuplicateTask)
}

func inputErr(sentinel error, event, field, format string, args ...any) error {
	return &InputError{Err: sentinel, Event: event, Field: field, Detail: fmt.Sprintf(format, args...)}
}

// ConfigError reports an unusable configuration or initial quorum map.
type ConfigError struct {
	Field  string
	Detail string
	Err    error // ErrMalformedMap for quorum-map problems, else nil
}

func (e *ConfigError) Error() string { return "scheduler config: " + e.Field + ": " + e.Detail }

// Unwrap exposes the underlying sentinel, if any.
func (e *ConfigError) Unwrap() error { return e.Err }
