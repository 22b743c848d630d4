package pacemaker

import (
	"github.com/fhbft/fhbft/impl/certification"
	"github.com/fhbft/fhbft/impl/pacemaker/timeout"
)

type timeoutConfig = timeout.Config

const (
	timeoutFixed    = timeout.Fixed
	timeoutAdaptive = timeout.Adaptive
)

var signVote = certification.SignVote
