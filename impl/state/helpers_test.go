package state

import "crypto/sha256"

func sha256Sum(b []byte) Hash { return sha256.Sum256(b) }
